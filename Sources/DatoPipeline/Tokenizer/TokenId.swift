/// A token id read from JSON: any whole number (its range is checked with the vocabulary). Decoded through
/// `Double` because Foundation's decoder reports an Int that does not fit (`2.5`, `1e30`) as invalid JSON
/// without naming the field.
struct TokenId: Decodable, Sendable {
    let value: Int

    init(from decoder: Decoder) throws {
        let number = try decoder.singleValueContainer().decode(Double.self)
        guard number.rounded() == number, abs(number) <= 9_007_199_254_740_992, let id = Int(exactly: number) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(number) is not a token id"))
        }
        value = id
    }
}
