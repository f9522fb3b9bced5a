import DatoCore
import Foundation

/// A PyTorch `.ckpt` (`torch.save` zip archive) read without executing anything: the pickle is parsed
/// by `Unpickler` with an allow-list of globals, and tensors are read straight from the archive's storages.
public final class PickleCheckpoint: CheckpointContents {
    public let path: String
    public let shapes: [String: [Int]]
    private let records: [String: TensorRecord]
    private let archive: ZipArchive
    private let root: String

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
        for (k, v) in items {
            if case .string("state_dict") = k, case .dict(let inner) = v { stateDict = inner }
        }
        var recs: [String: TensorRecord] = [:]
        for (k, v) in stateDict {
            guard case .string(let name) = k, case .tensor(let t) = v else { continue }
            recs[name] = t
        }
        records = recs
        shapes = recs.mapValues(\.shape)
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

    public func tensor(_ name: String) throws -> Tensor {
        guard let r = records[name] else { throw CheckpointError(path, "no tensor '\(name)'") }
        guard isFloatingPoint(name), let size = Self.elementSize(r.storageType) else {
            throw CheckpointError(path, "tensor '\(name)' is \(r.storageType), not floating point")
        }
        guard let entry = archive.entries["\(root)/data/\(r.storageKey)"] else {
            throw CheckpointError(path, "tensor '\(name)': storage \(r.storageKey) missing from the archive")
        }
        let range = try archive.range(of: entry)
        let t = Tensor(shape: r.shape, zeroed: false)
        let count = t.count
        var maxIndex = r.offset
        for (d, s) in zip(r.shape, r.stride) where d > 0 { maxIndex += (d - 1) * s }
        guard count == 0 || (maxIndex + 1) * size <= range.count else {
            throw CheckpointError(path, "tensor '\(name)': view \(r.shape) runs past its storage")
        }
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
