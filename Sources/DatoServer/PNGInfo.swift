import DatoImage
import Foundation
import Hummingbird

/// `POST /sdapi/v1/png-info` `{"image": base64 PNG}`: the image's `parameters` text (`info`), its other text
/// chunks (`items`) and the parameters read into fields (`parameters`), as AUTOMATIC1111 answers. The PNG is
/// read with the bounded reader (the body limit bounds it first).
extension DatoServer {
    func pngInfo(_ request: Request) async throws -> Response {
        var reader = FieldReader(try JSONValue.bodyObject(try await body(request)))
        let text = reader.string("image") ?? ""
        guard reader.issues.isEmpty else { throw APIError(issues: reader.issues) }
        var encoded = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if encoded.hasPrefix("data:"), let comma = encoded.firstIndex(of: ",") { encoded = String(encoded[encoded.index(after: comma)...]) }
        guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw APIError.invalid(["image"], "not a base64-encoded image")
        }
        let png: PNGReader.Image
        do {
            png = try PNGReader.decode([UInt8](data), name: "image")
        } catch {
            throw APIError.invalid(["image"], "\(error)")
        }
        let info = png.text["parameters"] ?? ""
        var items: [String: JSONValue] = [:]
        for (key, value) in png.text where key != "parameters" { items[key] = .string(value) }
        return JSONResponse.make(["info": .string(info), "items": .object(items),
                                  "parameters": .object(InfotextParser.fields(info).mapValues { .string($0) })])
    }
}

/// Reads AUTOMATIC1111's infotext: the prompt lines, `Negative prompt: ...`, and the last line's
/// `Key: value, Key: "quoted, value"` fields; `Size: WxH` also gives `Size-1` and `Size-2`.
enum InfotextParser {
    static func fields(_ text: String) -> [String: String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var result: [String: String] = [:]
        if let last = lines.last, last.contains(": ") && (last.hasPrefix("Steps: ") || lines.count > 1) {
            result = settings(last)
            lines.removeLast()
        }
        var prompt: [String] = [], negative: [String] = []
        for line in lines {
            if line.hasPrefix("Negative prompt: ") { negative.append(String(line.dropFirst("Negative prompt: ".count))) }
            else if negative.isEmpty { prompt.append(line) } else { negative.append(line) }
        }
        result["Prompt"] = prompt.joined(separator: "\n")
        result["Negative prompt"] = negative.joined(separator: "\n")
        if let size = result["Size"], let x = size.firstIndex(of: "x") {
            result["Size-1"] = String(size[..<x])
            result["Size-2"] = String(size[size.index(after: x)...])
        }
        return result
    }

    /// `Key: value, Key: "quoted, \"value\""` -> fields.
    private static func settings(_ line: String) -> [String: String] {
        var result: [String: String] = [:]
        var chars = Substring(line)
        while !chars.isEmpty {
            chars = chars.drop { $0 == " " || $0 == "," }
            guard let colon = chars.range(of: ": ") else { break }
            let key = String(chars[..<colon.lowerBound])
            chars = chars[colon.upperBound...]
            var value = ""
            if chars.first == "\"" {
                chars = chars.dropFirst()
                var escaped = false
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { break } else { value.append(c) }
                }
            } else {
                let end = chars.firstIndex(of: ",") ?? chars.endIndex
                value = String(chars[..<end])
                chars = chars[end...]
            }
            result[key] = value
        }
        return result
    }
}
