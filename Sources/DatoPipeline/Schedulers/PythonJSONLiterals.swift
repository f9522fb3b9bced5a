import Foundation

/// Python's `json.dump` writes the non-standard literals `NaN`, `Infinity` and `-Infinity` (diffusers' DPM-Solver
/// configs carry `"lambda_min_clipped": -Infinity`). Strict JSON refuses them, and Foundation's JSON5 mode, which
/// accepts them, stops the process on some malformed input instead of throwing (found by fuzzing). So such
/// literals outside strings are rewritten to `null` (the fields that may hold them are optional or unused), and the
/// result is read as strict JSON.
enum PythonJSONLiterals {
    /// `data` with every `NaN`, `Infinity` and `-Infinity` outside a string replaced by `null`.
    static func replacedWithNull(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0, inString = false
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                out.append(b)
                if b == UInt8(ascii: "\\"), i + 1 < bytes.count { out.append(bytes[i + 1]); i += 2; continue }
                if b == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if b == UInt8(ascii: "\"") { inString = true }
            if let length = literalLength(bytes, at: i) {
                out += Array("null".utf8)
                i += length
                continue
            }
            out.append(b)
            i += 1
        }
        return Data(out)
    }

    /// The length of a non-finite literal starting at `i`, if one does (and is not part of a longer word).
    private static func literalLength(_ bytes: [UInt8], at i: Int) -> Int? {
        for literal in ["-Infinity", "Infinity", "NaN"] {
            let word = Array(literal.utf8)
            guard i + word.count <= bytes.count, Array(bytes[i..<(i + word.count)]) == word else { continue }
            let next = i + word.count < bytes.count ? bytes[i + word.count] : UInt8(ascii: " ")
            let isWordByte = (next >= 0x30 && next <= 0x39) || (next | 0x20 >= 0x61 && next | 0x20 <= 0x7A) || next == 0x5F
            if !isWordByte { return word.count }
        }
        return nil
    }
}
