import DatoCore
import Foundation

/// A PyTorch `.ckpt` / `.bin` (`torch.save` zip archive) read without executing anything: the pickle is parsed
/// by `Unpickler` with an allow-list of globals, and tensors are read straight from the archive's storages.
/// (Files from PyTorch before 1.6, which are not zip archives, are read by `LegacyTorchCheckpoint`.)
public final class PickleCheckpoint: CheckpointContents {
    public let path: String
    public let shapes: [String: [Int]]
    private let records: [String: TensorRecord]
    /// Each tensor's storage bytes inside the archive, checked to hold the tensor's view.
    private let storageRanges: [String: Range<Int>]
    private let archive: ZipArchive
    /// The training step the checkpoint records (`global_step`), if any.
    public let globalStep: Int?

    /// Opens `path` (a regular file) and checks every tensor record against its storage before any
    /// tensor is allocated.
    public init(path: String) throws {
        self.path = path
        archive = try ZipArchive(path: path)
        guard let pkl = archive.entries.keys.first(where: { $0.hasSuffix("data.pkl") && $0.split(separator: "/").count == 2 }),
              let entry = archive.entries[pkl] else {
            throw CheckpointError(path, "no data.pkl inside: not a PyTorch zip checkpoint")
        }
        let root = String(pkl.split(separator: "/")[0])
        var unpickler = Unpickler(data: archive.data, range: try archive.range(of: entry), file: path, label: "data.pkl")
        let top = try unpickler.run()
        records = try TorchStorage.stateDict(top, path: path)
        globalStep = TorchStorage.globalStep(top)
        var ranges: [String: Range<Int>] = [:]
        for (name, r) in records {
            guard let storage = archive.entries["\(root)/data/\(r.storageKey)"] else {
                throw CheckpointError(path, "tensor '\(name)': storage \(r.storageKey) missing from the archive")
            }
            let range = try archive.range(of: storage)
            try TorchStorage.checkView(r, storageBytes: range.count, name: name, path: path)
            ranges[name] = range
        }
        storageRanges = ranges
        shapes = records.mapValues(\.shape)
    }

    /// Whether tensor `name` is stored as floating point (the only kind read as weights).
    public func isFloatingPoint(_ name: String) -> Bool {
        records[name].map { TorchStorage.isFloatingPoint($0.storageType) } ?? false
    }

    public func tensor(_ name: String) throws -> Tensor { try read(name, rows: nil) }

    /// Rows `rows` of a tensor (along its first dimension), read without the rest.
    public func tensor(_ name: String, rows: Range<Int>) throws -> Tensor { try read(name, rows: rows) }

    private func read(_ name: String, rows: Range<Int>?) throws -> Tensor {
        guard var r = records[name], let range = storageRanges[name] else { throw CheckpointError(path, "no tensor '\(name)'") }
        guard TorchStorage.isFloatingPoint(r.storageType) else {
            throw CheckpointError(path, "tensor '\(name)' is \(r.storageType), not floating point")
        }
        if let rows { r = try TorchStorage.rows(rows, of: r, name: name, path: path) }
        return TorchStorage.decode(r, data: archive.data, storage: range)
    }
}
