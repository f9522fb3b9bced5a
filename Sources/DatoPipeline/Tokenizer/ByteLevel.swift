/// GPT-2/CLIP's reversible byte-to-character mapping: every UTF-8 byte becomes a printable character
/// (printable Latin-1 bytes stand for themselves; the rest map to U+0100 upward, in byte order).
enum ByteLevel {
    static let encoder: [Character] = {
        let keep = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var table = [Character](repeating: " ", count: 256)
        var next = 256
        for b in 0..<256 {
            if keep.contains(b) {
                table[b] = Character(Unicode.Scalar(UInt8(b)))
            } else {
                table[b] = Character(Unicode.Scalar(UInt32(next)) ?? "?")   // 256...323: always valid scalars
                next += 1
            }
        }
        return table
    }()

    /// The 256 byte characters in vocabulary order: the printable bytes first, then the remapped ones.
    static let vocabularyOrder: [Character] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        let rest = (0..<256).filter { !printable.contains($0) }
        return (printable + rest).map { encoder[$0] }
    }()

    static let decoder: [Character: UInt8] = {
        var d: [Character: UInt8] = [:]
        for (b, c) in encoder.enumerated() { d[c] = UInt8(b) }
        return d
    }()

    /// The byte-level characters of a string's UTF-8 encoding.
    static func encode(_ s: Substring) -> [String] {
        s.utf8.map { String(encoder[Int($0)]) }
    }
}
