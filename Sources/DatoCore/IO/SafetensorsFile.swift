import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Element types a safetensors file may declare.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: return 1
        }
    }
}

/// A memory-mapped safetensors file with a fully validated header.
///
/// The header is checked once at open: its length bound, JSON syntax, every entry's dtype, shape and
/// offsets, offsets inside the data, and no two tensors overlapping. Tensors are converted to fp32
/// (from F32, F16 or BF16) when read.
public final class SafetensorsFile: @unchecked Sendable {
    /// One tensor's header entry.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: SafetensorsDType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let begin: Int, end: Int
    }

    /// Largest header accepted (the format's own limit).
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Entries by tensor name.
    public let entries: [String: Entry]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]
    private let base: UnsafeMutableRawPointer?
    private let mappedLength: Int
    private let dataStart: Int

    /// Tensor names in file order (by data offset).
    public var names: [String] { entries.values.sorted { $0.begin < $1.begin || ($0.begin == $1.begin && $0.name < $1.name) }.map(\.name) }

    /// Opens and validates `path` (which must be a regular file: a FIFO or device is refused, never waited on).
    public init(path: String) throws {
        self.path = path
        let fd: Int32, size: Int
        do {
            (fd, size) = try RegularFile.open(path)
        } catch let e as RegularFileError {
            throw SafetensorsError(.unreadable, file: path, e.reason)
        }
        defer { close(fd) }
        guard size >= 8 else {
            throw SafetensorsError(.truncated, file: path, "file is \(size) bytes, too short for the 8-byte header length")
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw SafetensorsError(.unreadable, file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = m
        mappedLength = size
        do {
            let headerLength = try Self.headerLength(UInt64(littleEndian: m.loadUnaligned(as: UInt64.self)), fileSize: size, path: path)
            dataStart = 8 + headerLength
            let header = Data(bytes: m + 8, count: headerLength)
            (entries, metadata) = try Self.parseHeader(header, dataSize: size - dataStart, path: path)
        } catch {
            munmap(m, size)
            throw error
        }
    }

    /// The header length field, checked against the format's limit and the file's size (before any conversion
    /// to `Int`, so that a length of 2^63 or more is an error, not a trap).
    static func headerLength(_ raw: UInt64, fileSize: Int, path: String) throws -> Int {
        guard raw <= UInt64(maxHeaderBytes) else {
            throw SafetensorsError(.headerTooLarge, file: path, "header length \(raw) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let length = Int(raw)
        guard length <= fileSize - 8 else {
            throw SafetensorsError(.truncated, file: path, "header length \(length) runs past the end of the \(fileSize)-byte file")
        }
        return length
    }

    deinit { if let base { munmap(base, mappedLength) } }

    static func parseHeader(_ header: Data, dataSize: Int, path: String) throws -> ([String: Entry], [String: String]) {
        guard let json = try? JSONSerialization.jsonObject(with: header), let object = json as? [String: Any] else {
            throw SafetensorsError(.headerNotJSON, file: path, "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw SafetensorsError(.badEntry, file: path, tensor: name, "__metadata__ must be an object of strings")
                }
                for (k, v) in map {
                    guard let s = v as? String else {
                        throw SafetensorsError(.badEntry, file: path, tensor: name, "__metadata__ value '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries[name] = try parseEntry(name: name, value: value, dataSize: dataSize, path: path)
        }
        let sorted = entries.values.sorted { $0.begin < $1.begin || ($0.begin == $1.begin && $0.end < $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw SafetensorsError(.overlap, file: path, tensor: b.name,
                                   "data [\(b.begin), \(b.end)) overlaps tensor '\(a.name)' [\(a.begin), \(a.end))")
        }
        return (entries, metadata)
    }

    static func parseEntry(name: String, value: Any, dataSize: Int, path: String) throws -> Entry {
        func bad(_ why: String) -> SafetensorsError { SafetensorsError(.badEntry, file: path, tensor: name, why) }
        guard let dict = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let dtypeName = dict["dtype"] as? String else { throw bad("missing or non-string 'dtype'") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw SafetensorsError(.unknownDType, file: path, tensor: name, "unknown dtype '\(dtypeName)'")
        }
        guard let shapeAny = dict["shape"] as? [Any] else { throw bad("missing or non-array 'shape'") }
        var shape: [Int] = []
        for d in shapeAny {
            guard let n = exactInt(d), n >= 0 else { throw bad("shape \(shapeAny) has a non-integer or negative dimension") }
            shape.append(n)
        }
        guard let offs = dict["data_offsets"] as? [Any], offs.count == 2,
              let begin = exactInt(offs[0]), let end = exactInt(offs[1]), begin >= 0, begin <= end else {
            throw bad("'data_offsets' must be two non-decreasing non-negative integers")
        }
        let bytes = try byteCount(shape: shape, dtype: dtype, bad: bad)
        guard bytes == end - begin else {
            throw SafetensorsError(.sizeMismatch, file: path, tensor: name,
                                   "shape \(shape) of \(dtypeName) needs \(bytes) bytes but data_offsets [\(begin), \(end)) span \(end - begin)")
        }
        guard end <= dataSize else {
            throw SafetensorsError(.outOfBounds, file: path, tensor: name,
                                   "data_offsets [\(begin), \(end)) run past the end of the \(dataSize)-byte data section (file truncated?)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Bytes a tensor of `shape` needs. The product of the non-zero dimensions must fit in `Int` too, so that
    /// no later size computation (element counts, strides) can overflow on a shape with a zero in it.
    private static func byteCount(shape: [Int], dtype: SafetensorsDType, bad: (String) -> SafetensorsError) throws -> Int {
        var nonZero = dtype.size, zero = false
        for d in shape {
            if d == 0 { zero = true; continue }
            let (p, overflow) = nonZero.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape \(shape) of \(dtype.rawValue) is too large (more than \(Int.max) bytes)") }
            nonZero = p
        }
        return zero ? 0 : nonZero
    }

    /// A JSON integer as `Int`, nil for floats, booleans and integers outside `Int`'s range.
    private static func exactInt(_ v: Any) -> Int? {
        guard let n = v as? NSNumber, isJSONInteger(n) else { return nil }
        if ["S", "I", "L", "Q"].contains(String(cString: n.objCType)) { return Int(exactly: n.uint64Value) }
        return Int(exactly: n.int64Value)
    }

    /// Reads tensor `name` as fp32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else {
            throw SafetensorsError(.missingTensor, file: path, tensor: name, "no such tensor in the file")
        }
        return try tensor(e)
    }

    /// Reads an entry as fp32 (from F32, F16, BF16 or F64).
    public func tensor(_ e: Entry) throws -> Tensor {
        guard let base else { throw SafetensorsError(.unreadable, file: path, "file is not mapped") }
        guard [.F32, .F16, .BF16, .F64].contains(e.dtype) else {
            throw SafetensorsError(.unsupportedDType, file: path, tensor: e.name,
                                   "dtype \(e.dtype.rawValue) cannot be read as floating point weights")
        }
        let src = base + dataStart + e.begin
        let t = Tensor(shape: e.shape, zeroed: false)
        let n = t.count
        switch e.dtype {
        case .F32:
            memcpy(t.data, src, n * 4)
        case .F16:
            let s = src.assumingMemoryBound(to: UInt16.self)
            Parallel.chunks(n, minimumPerThread: 1 << 16) { r in
                for i in r { t.data[i] = Float(Float16(bitPattern: UInt16(littleEndian: s[i]))) }
            }
        case .BF16:
            let s = src.assumingMemoryBound(to: UInt16.self)
            Parallel.chunks(n, minimumPerThread: 1 << 16) { r in
                for i in r { t.data[i] = Float(bitPattern: UInt32(UInt16(littleEndian: s[i])) << 16) }
            }
        case .F64:
            for i in 0..<n { t.data[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        default:
            throw SafetensorsError(.unsupportedDType, file: path, tensor: e.name,
                                   "dtype \(e.dtype.rawValue) cannot be read as floating point weights")
        }
        return t
    }
}

/// Whether an NSNumber from JSONSerialization holds an integer (not a float and not a boolean).
private func isJSONInteger(_ n: NSNumber) -> Bool {
    ["s", "i", "l", "q", "S", "I", "L", "Q"].contains(String(cString: n.objCType))
}
