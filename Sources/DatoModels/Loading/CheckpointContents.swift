import DatoCore

/// The tensors of a checkpoint file, by the names stored in it (safetensors or PyTorch `.ckpt`).
public protocol CheckpointContents: AnyObject {
    var path: String { get }
    /// Shape of every tensor in the file.
    var shapes: [String: [Int]] { get }
    /// Reads a floating-point tensor as fp32.
    func tensor(_ name: String) throws -> Tensor
    /// Reads rows `rows` of a floating-point tensor (along its first dimension) as fp32.
    func tensor(_ name: String, rows: Range<Int>) throws -> Tensor
    /// The training step a PyTorch checkpoint records next to its weights (`global_step`), if any.
    var globalStep: Int? { get }
}

extension CheckpointContents {
    public var globalStep: Int? { nil }
}

extension SafetensorsFile: CheckpointContents {
    public var shapes: [String: [Int]] { entries.mapValues(\.shape) }
}

/// Opens a checkpoint by its extension: `.ckpt`/`.pt`/`.pth`/`.bin` (`torch.save`, zip or legacy format) or
/// safetensors.
public func openCheckpoint(_ path: String) throws -> CheckpointContents {
    let lower = path.lowercased()
    if [".ckpt", ".pt", ".pth", ".bin"].contains(where: { lower.hasSuffix($0) }) { return try openTorchCheckpoint(path) }
    return try SafetensorsFile(path: path)
}

/// A `TensorSource` over checkpoint contents with the file's names mapped to diffusers names
/// (`rename` returns nil to leave a tensor out).
public final class RenamedSource: TensorSource {
    let contents: CheckpointContents
    public let sourceName: String
    public let shapes: [String: [Int]]?
    private let stored: [String: String]   // diffusers name -> stored name

    public init(_ contents: CheckpointContents, rename: (String) -> String? = { $0 }) {
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

    /// A safetensors file with its names used as they are.
    public convenience init(path: String) throws {
        self.init(try SafetensorsFile(path: path))
    }

    public func load(_ name: String, shape: [Int]) throws -> Tensor {
        guard let s = stored[name] else { throw ModelError.weights(source: sourceName, problems: ["missing tensor '\(name)'"]) }
        return try contents.tensor(s)
    }
}

/// The source for a diffusers component's safetensors file.
public typealias SafetensorsSource = RenamedSource
