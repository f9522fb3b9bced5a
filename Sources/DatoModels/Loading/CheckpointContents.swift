import DatoCore

/// The tensors of a checkpoint file, by the names stored in it (safetensors or PyTorch `.ckpt`).
public protocol CheckpointContents: AnyObject {
    var path: String { get }
    /// Shape of every tensor in the file.
    var shapes: [String: [Int]] { get }
    /// Reads a floating-point tensor as fp32.
    func tensor(_ name: String) throws -> Tensor
}

extension SafetensorsFile: CheckpointContents {
    public var shapes: [String: [Int]] { entries.mapValues(\.shape) }
}

/// Opens a single-file checkpoint by its extension: `.ckpt`/`.pt`/`.pth` (PyTorch zip) or safetensors.
public func openCheckpoint(_ path: String) throws -> CheckpointContents {
    let lower = path.lowercased()
    if lower.hasSuffix(".ckpt") || lower.hasSuffix(".pt") || lower.hasSuffix(".pth") { return try PickleCheckpoint(path: path) }
    return try SafetensorsFile(path: path)
}

/// A `TensorSource` over checkpoint contents with the file's names mapped to diffusers names.
final class RenamedSource: TensorSource {
    let contents: CheckpointContents
    let sourceName: String
    let shapes: [String: [Int]]?
    private let stored: [String: String]   // diffusers name -> stored name

    init(_ contents: CheckpointContents, rename: (String) -> String?) {
        self.contents = contents
        sourceName = contents.path
        var shapes: [String: [Int]] = [:], stored: [String: String] = [:]
        for (name, shape) in contents.shapes {
            guard let mapped = rename(name) else { continue }
            shapes[mapped] = shape
            stored[mapped] = name
        }
        self.shapes = shapes
        self.stored = stored
    }

    func load(_ name: String, shape: [Int]) throws -> Tensor {
        guard let s = stored[name] else { throw ModelError.weights(source: sourceName, problems: ["missing tensor '\(name)'"]) }
        return try contents.tensor(s)
    }
}
