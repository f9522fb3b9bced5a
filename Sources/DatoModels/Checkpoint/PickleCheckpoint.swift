import DatoCore
import Foundation

/// A PyTorch `.ckpt` (`torch.save` zip archive) read without executing anything: the pickle is parsed
/// by `Unpickler` with an allow-list of globals, and tensors are read straight from the archive's storages.
public final class PickleCheckpoint: CheckpointContents {
    public let path: String
    public let shapes: [String: [Int]]
    /// The top-level `global_step` training checkpoints record (diffusers tells SD 2.0 base by it).
    public let globalStep: Int?
    private let records: [String: TensorRecord]
    /// Each tensor's storage bytes inside the archive, checked to hold the tensor's view.
    private let storageRanges: [String: Range<Int>]
    private let archive: ZipArchive
    private let root: String

    /// Opens `path` (a regular file) and checks every tensor record against its storage before any
    /// tensor is allocated.
    public init(path: String) throws {
        self.path = path
        archive = try ZipArchive(path: path)
        guard let pkl = archive.entries.keys.first(where: { $0.hasSuffix("data.pkl") && $0.split(separator: "/").count == 2 }),
              let entry = archive.entries[pkl] else {
            throw CheckpointError(path, "no data.pkl inside: not a PyTorch zip checkpoint (legacy pre-1.6 .ckpt files are not supported)")
        }
        root = String(pkl.split(separator: "/")[0])
        var unpickler = Unpickler(bytes: Array(archive.data[try archive.range(of: entry)]), file: path)
        let top = try unpickler.run()
        guard case .dict(let items) = top else { throw CheckpointError(path, "the pickle is not a dictionary") }
        var stateDict = items
        var step: Int? = nil
        for (k, v) in items {
            if case .string("state_dict") = k, case .dict(let inner) = v { stateDict = inner }
            if case .string("global_step") = k, case .int(let n) = v { step = n }
        }
        globalStep = step
        var recs: [String: TensorRecord] = [:], ranges: [String: Range<Int>] = [:]
        for (k, v) in stateDict {
            guard case .string(let name) = k, case .tensor(let t) = v else { continue }
            recs[name] = t
            ranges[name] = try Self.storageRange(of: t, name: name, in: archive, root: root, path: path)
        }
        records = recs
        storageRanges = ranges
        shapes = recs.mapValues(\.shape)
    }

    /// The bytes of a tensor's storage, after checking that its view (offset, sizes, strides) lies inside
    /// them and that it has no more elements than the storage (no broadcast views from a tiny storage).
    private static func storageRange(of r: TensorRecord, name: String, in archive: ZipArchive, root: String,
                                     path: String) throws -> Range<Int> {
        func bad(_ m: String) -> CheckpointError { CheckpointError(path, "tensor '\(name)': \(m)") }
        guard let entry = archive.entries["\(root)/data/\(r.storageKey)"] else { throw bad("storage \(r.storageKey) missing from the archive") }
        guard let size = elementSize(r.storageType) else { throw bad("unsupported storage type \(r.storageType)") }
        guard r.offset >= 0 else { throw bad("storage offset \(r.offset) is negative") }
        guard r.shape.allSatisfy({ $0 >= 0 }), r.stride.allSatisfy({ $0 >= 0 }) else {
            throw bad("sizes \(r.shape) and strides \(r.stride) must be non-negative")
        }
        let range = try archive.range(of: entry)
        let available = range.count / size
        var count = 1, zero = false, last = r.offset
        for (d, s) in zip(r.shape, r.stride) {
            if d == 0 { zero = true; continue }
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            let (step, o2) = (d - 1).multipliedReportingOverflow(by: s)
            let (l, o3) = last.addingReportingOverflow(step)
            guard !o1, !o2, !o3 else { throw bad("view \(r.shape) with strides \(r.stride) at offset \(r.offset) is too large") }
            count = c; last = l
        }
        guard !zero else { return range }
        guard last < available, count <= available else {
            throw bad("view \(r.shape) with strides \(r.stride) at offset \(r.offset) needs elements up to index \(last) (\(count) in all) but its storage holds \(available)")
        }
        return range
    }

    static func elementSize(_ type: String) -> Int? {
        switch type {
        case "torch.FloatStorage", "torch.IntStorage": return 4
        case "torch.HalfStorage", "torch.BFloat16Storage", "torch.ShortStorage": return 2
        case "torch.DoubleStorage", "torch.LongStorage": return 8
        case "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage": return 1
        default: return nil
        }
    }

    public func isFloatingPoint(_ name: String) -> Bool {
        guard let r = records[name] else { return false }
        return ["torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage"].contains(r.storageType)
    }

    public func tensor(_ name: String) throws -> Tensor { try read(name, rows: nil) }

    /// Rows `rows` of a tensor (along its first dimension), read without the rest: a view inside the one
    /// whose storage bounds were checked at open.
    public func tensor(_ name: String, rows: Range<Int>) throws -> Tensor { try read(name, rows: rows) }

    private func read(_ name: String, rows: Range<Int>?) throws -> Tensor {
        guard var r = records[name] else { throw CheckpointError(path, "no tensor '\(name)'") }
        if let rows {
            guard let first = r.shape.first, r.stride.count == r.shape.count, rows.lowerBound >= 0, rows.upperBound <= first,
                  !rows.isEmpty else {
                throw CheckpointError(path, "tensor '\(name)': rows \(rows) are outside its shape \(r.shape)")
            }
            r = TensorRecord(storageType: r.storageType, storageKey: r.storageKey, offset: r.offset + rows.lowerBound * r.stride[0],
                             shape: [rows.count] + r.shape.dropFirst(), stride: r.stride)
        }
        guard isFloatingPoint(name), let size = Self.elementSize(r.storageType) else {
            throw CheckpointError(path, "tensor '\(name)' is \(r.storageType), not floating point")
        }
        guard let range = storageRanges[name] else { throw CheckpointError(path, "no tensor '\(name)'") }
        let t = Tensor(shape: r.shape, zeroed: false)
        let count = t.count
        let type = r.storageType
        archive.data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let start = raw.baseAddress else { return }
            let base = start + range.lowerBound
            var index = [Int](repeating: 0, count: r.shape.count)
            for i in 0..<count {
                var element = r.offset
                for (d, s) in zip(index, r.stride) { element += d * s }
                let p = base + element * size
                switch type {
                case "torch.FloatStorage": t[i] = p.loadUnaligned(as: Float.self)
                case "torch.HalfStorage": t[i] = Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
                case "torch.BFloat16Storage": t[i] = Float(bitPattern: UInt32(p.loadUnaligned(as: UInt16.self)) << 16)
                default: t[i] = Float(p.loadUnaligned(as: Double.self))
                }
                var axis = r.shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < r.shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return t
    }
}
