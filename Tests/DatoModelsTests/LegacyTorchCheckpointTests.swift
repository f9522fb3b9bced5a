import DatoCore
@testable import DatoModels
import Foundation
import XCTest

/// Legacy (pre-1.6, non-zip) `torch.save` files built pickle by pickle, well formed and with one lie each:
/// every lie is one error naming the file (and the storage or tensor), never a trap or a large allocation.
final class LegacyTorchCheckpointTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-legacy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The parts of a legacy file, each replaceable by a test.
    struct Legacy {
        var magic: [UInt8] = [0x80, 2, 0x8A, 0x0A] + LegacyTorchCheckpoint.magic + [0x2E]
        var protocolVersion = 1001
        var littleEndian = true
        /// (name, storage key, storage count in the pickle, offset, shape, stride)
        var tensors: [(String, String, Int, Int, [Int], [Int])] = [("a", "140", 6, 0, [2, 3], [3, 1]), ("b", "77", 4, 1, [2], [2])]
        var keys = ["140", "77"]
        var storages: [String: [Float]] = ["140": [1, 2, 3, 4, 5, 6], "77": [7, 8, 9, 10]]
        /// Element counts written before each storage (nil: the truth).
        var counts: [String: UInt64] = [:]

        var bytes: [UInt8] {
            var out = magic
            var version = TestPickle(); version.int(protocolVersion); version.op(0x2E)
            var info = TestPickle()
            info.op(0x7D, 0x28); info.string("protocol_version"); info.int(1001)
            info.string("little_endian"); info.op(littleEndian ? 0x88 : 0x89); info.op(0x75, 0x2E)
            var list = TestPickle()
            list.op(0x5D, 0x28)
            for k in keys { list.string(k) }
            list.op(0x65, 0x2E)
            let records = tensors.map { (name: $0.0, key: $0.1, elements: $0.2, offset: $0.3, shape: $0.4, stride: $0.5) }
            out += version.bytes + info.bytes + TestPickle.stateDict(records) + list.bytes
            for k in keys {
                let values = storages[k] ?? []
                let count = counts[k] ?? UInt64(values.count)
                out += (0..<8).map { UInt8(truncatingIfNeeded: count >> (8 * $0)) }
                out += values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
            }
            return out
        }
    }

    func write(_ bytes: [UInt8]) throws -> String {
        let path = "\(dir!)/legacy.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Opening through `openCheckpoint` (format detected from the first bytes) and reading every tensor
    /// fails with an error naming the file and holding `words`.
    func expectRefused(_ legacy: Legacy, _ words: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        try expectRefusedBytes(legacy.bytes, words, file: file, line: line)
    }

    func testWellFormedFileLoads() throws {
        let c = try openCheckpoint(try write(Legacy().bytes))
        XCTAssertTrue(c is LegacyTorchCheckpoint)
        XCTAssertEqual(c.shapes, ["a": [2, 3], "b": [2]])
        XCTAssertEqual(try c.tensor("a").array, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try c.tensor("b").array, [8, 10])   // offset 1, stride 2
        // The magic pickle framed as protocol 4 writes it.
        var framed = Legacy()
        framed.magic = [0x80, 4, 0x95] + [13, 0, 0, 0, 0, 0, 0, 0] + [0x8A, 0x0A] + LegacyTorchCheckpoint.magic + [0x2E]
        XCTAssertEqual(try openCheckpoint(try write(framed.bytes)).tensor("a").array, [1, 2, 3, 4, 5, 6])
    }

    func testLyingStorageSizesAreRefused() throws {
        var more = Legacy(); more.counts["140"] = 7
        try expectRefused(more, "storage 140", "the file says 7 elements but the pickle says 6")
        var fewer = Legacy(); fewer.counts["77"] = 3
        try expectRefused(fewer, "storage 77", "the file says 3 elements but the pickle says 4")
        var huge = Legacy(); huge.counts["140"] = .max
        try expectRefused(huge, "storage 140", "elements")
        // The pickle and the file agree on a size the file does not hold.
        var big = Legacy(); big.tensors[1].2 = 1 << 40; big.counts["77"] = 1 << 40
        try expectRefused(big, "storage 77", "truncated file")
        var overflow = Legacy(); overflow.tensors[1].2 = Int.max / 2; overflow.counts["77"] = UInt64(Int.max / 2)
        try expectRefused(overflow, "storage 77", "truncated file")
    }

    func testTruncatedFilesAreRefused() throws {
        let whole = Legacy().bytes
        try expectRefusedBytes(Array(whole.dropLast(3)), "storage 77", "truncated file")
        try expectRefusedBytes(Array(whole.dropLast(16 + 3)), "storage 77", "no element count")
        try expectRefusedBytes(Array(whole.prefix(40)), "truncated pickle")
        try expectRefusedBytes(Array(whole.prefix(8)), "magic number")
        // Every prefix: an error each time, never a trap.
        for n in 0..<whole.count { try expectRefusedBytes(Array(whole.prefix(n))) }
    }

    func expectRefusedBytes(_ bytes: [UInt8], _ words: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        try expectRefusedBytes(bytes, words, file: file, line: line)
    }

    /// `bytes` as a file: opening and reading every tensor fails with an error naming the file and holding `words`.
    func expectRefusedBytes(_ bytes: [UInt8], _ words: [String], file: StaticString, line: UInt) throws {
        let path = try write(bytes)
        XCTAssertThrowsError(try {
            let c = try openCheckpoint(path)
            for name in c.shapes.keys { _ = try c.tensor(name) }
        }(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text, file: file, line: line)
            for w in words { XCTAssertTrue(text.contains(w), "'\(w)' not in: \(text)", file: file, line: line) }
        }
    }

    func testInconsistentPicklesAreRefused() throws {
        var viewOutside = Legacy(); viewOutside.tensors[0].4 = [3, 3]
        try expectRefused(viewOutside, "tensor 'a'", "storage holds 6")
        var unlisted = Legacy(); unlisted.keys = ["140"]
        try expectRefused(unlisted, "tensor 'b'", "not in the file's storage list")
        var twice = Legacy(); twice.keys = ["140", "77", "140"]
        try expectRefused(twice, "storage 140 is listed twice")
        var unknown = Legacy(); unknown.keys = ["140", "77", "9"]
        try expectRefused(unknown, "storage 9", "never referenced")
        var mismatch = Legacy(); mismatch.tensors[1].1 = "140"
        try expectRefused(mismatch, "storage 140 is referenced as 6 x torch.FloatStorage and as 4 x torch.FloatStorage")
        var version = Legacy(); version.protocolVersion = 1000
        try expectRefused(version, "protocol version")
        var bigEndian = Legacy(); bigEndian.littleEndian = false
        try expectRefused(bigEndian, "big-endian")
        var notMagic = Legacy(); notMagic.magic[5] ^= 1
        try expectRefused(notMagic, "magic number")
        try expectRefusedBytes(Array("hello".utf8), "neither a PyTorch zip archive nor a legacy torch.save file")
    }

    /// Random byte changes anywhere in the file: errors are fine, traps are not.
    func testMutatedFilesNeverTrap() throws {
        let whole = Legacy().bytes
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33) % n
        }
        for _ in 0..<400 {
            var b = whole
            for _ in 0...next(4) { b[next(b.count)] = [0xFF, 0x00, 0x80, UInt8(next(256))][next(4)] }
            if let c = try? openCheckpoint(try write(b)) {
                for name in c.shapes.keys { _ = try? c.tensor(name) }
            }
        }
    }
}
