import DatoCore
@testable import DatoPipeline
import Foundation
import XCTest

/// The tokenizer gives transformers' CLIPTokenizer ids (fixtures from tools/fixtures/make_fixtures.py).
final class TokenizerTests: XCTestCase {
    struct Case: Decodable {
        let prompt: String
        let ids: [Int]
        let raw: [Int]
    }

    static let tokenizer = Result { try CLIPTokenizer.builtin() }

    func testMatchesTransformers() throws {
        let tok = try Self.tokenizer.get()
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tokenizer-ids.json")
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
        XCTAssertGreaterThanOrEqual(cases.count, 100)
        for c in cases {
            XCTAssertEqual(tok.encode(c.prompt), c.raw, "raw ids of \(c.prompt.debugDescription)")
            let enc = tok(c.prompt)
            XCTAssertEqual(enc.ids, c.ids, "padded ids of \(c.prompt.debugDescription)")
            XCTAssertEqual(enc.truncatedText != nil, c.raw.count > 75, "truncation flag of \(c.prompt.debugDescription)")
        }
    }

    func testKnownIdsAndTruncationWarning() throws {
        let tok = try Self.tokenizer.get()
        XCTAssertEqual(tok.vocab.count, 49408)
        XCTAssertEqual(Array(tok("a photo of a cat").ids.prefix(8)), [49406, 320, 1125, 539, 320, 2368, 49407, 49407])
        let long = Array(repeating: "red", count: 79).joined(separator: " ") + " blue"
        let enc = tok(long)
        XCTAssertEqual(enc.ids.count, 77)
        XCTAssertEqual(enc.ids.last, tok.eosId)
        XCTAssertNotNil(enc.truncatedText)
        XCTAssertEqual(enc.truncatedText, "red red red red blue")   // tokens 76...80 did not fit
    }

    /// The merging of the reference tokenizers, written out plainly: each round rescans the word for the
    /// lowest-ranked pair and merges its occurrences left to right (the oracle for the queued merging).
    static func referenceMerge(_ symbols: [String], rank: (String, String) -> Int?) -> [String] {
        var word = symbols
        while word.count > 1 {
            var best: (rank: Int, first: String, second: String)?
            for i in 0..<(word.count - 1) {
                if let r = rank(word[i], word[i + 1]), r < (best?.rank ?? Int.max) { best = (r, word[i], word[i + 1]) }
            }
            guard let best else { break }
            var merged: [String] = []
            var i = 0
            while i < word.count {
                if i + 1 < word.count, word[i] == best.first, word[i + 1] == best.second {
                    merged.append(best.first + best.second)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        return word
    }

    func testQueuedMergingMatchesTheReferenceLoop() throws {
        let tok = try Self.tokenizer.get()
        var random = SplitMix(seed: 20)
        let alphabets = ["aeilnorst", "ab", "a", "th", "éèàç", "xyzq!?", "ss", "lo"].map(Array.init)
        for n in 0..<3000 {
            let alphabet = alphabets[n % alphabets.count]
            let word = String((0...random.next(n < 2900 ? 40 : 400)).map { _ in alphabet[random.next(alphabet.count)] })
            var symbols = ByteLevel.encode(Substring(word))
            symbols[symbols.count - 1] += "</w>"
            let reference = Self.referenceMerge(symbols, rank: tok.rank)
            XCTAssertEqual(BytePairMerge.queued(symbols, rank: tok.rank), reference, "word \(word)")
            XCTAssertEqual(BytePairMerge.merge(symbols, rank: tok.rank), reference, "word \(word)")
        }
    }

    /// A prompt word of 100,000 letters: the reference loop's O(n^2) rounds took 2 minutes in a debug build, the
    /// queued merging about a second (the bound leaves room for a busy machine).
    func testLongWordDoesNotTakeQuadraticTime() throws {
        let tok = try Self.tokenizer.get()
        var random = SplitMix(seed: 7)
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        let word = String((0..<100_000).map { _ in letters[random.next(26)] })
        let start = Date()
        let encoding = tok("a " + word + " b")
        XCTAssertEqual(encoding.ids.count, 77)
        XCTAssertNotNil(encoding.truncatedText)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "tokenising a 100,000-letter word")
    }

    /// The pre-token cache stays bounded over many distinct words (it kept every word of every prompt, and with
    /// it the whole prompt text, for the life of the tokenizer: a fuzzer's memory grew without end).
    func testCacheStaysBounded() throws {
        let tok = try CLIPTokenizer.builtin()
        let words = 10_000
        for i in 0..<words {
            var n = i, word = "word"   // a distinct all-letter word for every i
            repeat { word.append(Character(Unicode.Scalar(UInt8(97 + n % 26)))); n /= 26 } while n > 0
            XCTAssertEqual(tok(word).ids.count, 77)
        }
        let cache = Mirror(reflecting: tok).children.first { $0.label == "cache" }?.value
        let entries = cache.map { Mirror(reflecting: $0).children.count } ?? -1
        XCTAssertGreaterThan(entries, 0)
        XCTAssertLessThan(entries, words / 2, "the tokenizer caches \(entries) pre-tokens")
    }
}
