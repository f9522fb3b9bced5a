import DatoCore
import Foundation

/// PyTorch storages as `torch.save` writes them (zip and legacy formats alike): element sizes, the check
/// that a tensor's view lies inside its storage, and the conversion of a view to an fp32 `Tensor`.
enum TorchStorage {
    /// Bytes per element of a storage type, nil for a type this reader does not know.
    static func elementSize(_ type: String) -> Int? {
        switch type {
        case "torch.FloatStorage", "torch.IntStorage": return 4
        case "torch.HalfStorage", "torch.BFloat16Storage", "torch.ShortStorage": return 2
        case "torch.DoubleStorage", "torch.LongStorage": return 8
        case "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage": return 1
        default: return nil
        }
    }

    /// Whether a storage type holds floating-point values (the only ones read as weights).
    static func isFloatingPoint(_ type: String) -> Bool {
        ["torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage"].contains(type)
    }

    /// Checks that a tensor's view (offset, sizes, strides) lies inside a storage of `storageBytes` bytes
    /// and has no more elements than the storage (no broadcast views from a tiny storage). Errors name
    /// `path` and the tensor.
    static func checkView(_ r: TensorRecord, storageBytes: Int, name: String, path: String) throws {
        func bad(_ m: String) -> CheckpointError { CheckpointError(path, "tensor '\(name)': \(m)") }
        guard let size = elementSize(r.storageType) else { throw bad("unsupported storage type \(r.storageType)") }
        guard r.offset >= 0 else { throw bad("storage offset \(r.offset) is negative") }
        guard r.shape.allSatisfy({ $0 >= 0 }), r.stride.allSatisfy({ $0 >= 0 }) else {
            throw bad("sizes \(r.shape) and strides \(r.stride) must be non-negative")
        }
        let available = storageBytes / size
        var count = 1, zero = false, last = r.offset
        for (d, s) in zip(r.shape, r.stride) {
            if d == 0 { zero = true; continue }
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            let (step, o2) = (d - 1).multipliedReportingOverflow(by: s)
            let (l, o3) = last.addingReportingOverflow(step)
            guard !o1, !o2, !o3 else { throw bad("view \(r.shape) with strides \(r.stride) at offset \(r.offset) is too large") }
            count = c; last = l
        }
        guard !zero else { return }
        guard last < available, count <= available else {
            throw bad("view \(r.shape) with strides \(r.stride) at offset \(r.offset) needs elements up to index \(last) (\(count) in all) but its storage holds \(available)")
        }
    }

    /// Reads a view already checked by `checkView` from the storage at `storage` in `data`, as fp32.
    static func decode(_ r: TensorRecord, data: Data, storage: Range<Int>) -> Tensor {
        let t = Tensor(shape: r.shape, zeroed: false)
        let count = t.count, type = r.storageType, size = elementSize(type) ?? 4
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let start = raw.baseAddress else { return }
            let base = start + storage.lowerBound
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

    /// Rows `rows` (along the first dimension) of a view already checked by `checkView`: a view inside it, so
    /// inside the storage too.
    static func rows(_ rows: Range<Int>, of r: TensorRecord, name: String, path: String) throws -> TensorRecord {
        guard let first = r.shape.first, r.stride.count == r.shape.count, rows.lowerBound >= 0, rows.upperBound <= first,
              !rows.isEmpty else {
            throw CheckpointError(path, "tensor '\(name)': rows \(rows) are outside its shape \(r.shape)")
        }
        return TensorRecord(storageType: r.storageType, storageKey: r.storageKey, offset: r.offset + rows.lowerBound * r.stride[0],
                            shape: [rows.count] + r.shape.dropFirst(), stride: r.stride)
    }

    /// The training step a checkpoint's top-level dict records (`global_step`), if it is an integer.
    static func globalStep(_ top: PickleValue) -> Int? {
        guard case .dict(let items) = top else { return nil }
        for (k, v) in items {
            if case .string("global_step") = k, case .int(let n) = v { return n }
        }
        return nil
    }

    /// The tensors of an unpickled `torch.save` object: the object itself when it is a dict of tensors (as
    /// `save_pretrained` writes `.bin` files), or its `state_dict` entry (as training checkpoints hold them).
    static func stateDict(_ top: PickleValue, path: String) throws -> [String: TensorRecord] {
        guard case .dict(let items) = top else { throw CheckpointError(path, "the pickle is not a dictionary") }
        var stateDict = items
        for (k, v) in items {
            if case .string("state_dict") = k, case .dict(let inner) = v { stateDict = inner }
        }
        var records: [String: TensorRecord] = [:]
        for (k, v) in stateDict {
            guard case .string(let name) = k, case .tensor(let t) = v else { continue }
            records[name] = t
        }
        return records
    }
}
