import Foundation

/// Writes tensors to a safetensors file (fp32 or fp16) through `OutputFile`: the data goes to a temporary
/// file in the same folder, which is renamed over `path` only when complete.
public enum SafetensorsWriter {
    /// Element type to store.
    public enum StorageType: String, Sendable { case f32 = "F32", f16 = "F16" }

    /// Writes `tensors` (name, tensor) with optional string `metadata` to `path`.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String,
                             as type: StorageType = .f32) throws {
        let elementSize = type == .f32 ? 4 : 2
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let body = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(body.joined(separator: ","))}")
        }
        var offset = 0
        for (name, t) in tensors {
            let bytes = t.count * elementSize
            parts.append("\(jsonString(name)):{\"dtype\":\"\(type.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for (_, t) in tensors {
            switch type {
            case .f32:
                out.append(UnsafeBufferPointer(start: t.data, count: t.count))
            case .f16:
                var half = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { half[i] = Float16(t.data[i]).bitPattern.littleEndian }
                half.withUnsafeBufferPointer { out.append($0) }
            }
        }
        try OutputFile.write(out, to: path)
    }

    static func jsonString(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case _ where u.value < 0x20: r += String(format: "\\u%04x", u.value)
            default: r.unicodeScalars.append(u)
            }
        }
        return r + "\""
    }
}

/// Writes files via a temporary sibling and a rename, so no reader ever sees half a file: the same as
/// `OutputFile.write(_:to:)` (kept for callers of the older name).
public enum AtomicFile {
    /// Writes `data` to `path`; see `OutputFile` for the rules.
    public static func write(_ data: Data, to path: String) throws {
        try OutputFile.write(data, to: path)
    }
}
