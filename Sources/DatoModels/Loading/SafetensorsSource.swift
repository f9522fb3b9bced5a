import DatoCore

/// A `TensorSource` over one or more safetensors files, with an optional renaming of the file's
/// names to diffusers names (returning nil drops a tensor from this source).
public final class SafetensorsSource: TensorSource {
    public let sourceName: String
    public let shapes: [String: [Int]]?
    private var locations: [String: (SafetensorsFile, SafetensorsFile.Entry)] = [:]

    /// Opens the files. `rename` maps a stored name to a diffusers name, or nil to leave it out.
    public init(files: [SafetensorsFile], rename: (String) -> String? = { $0 }) {
        sourceName = files.map(\.path).joined(separator: ", ")
        var shapes: [String: [Int]] = [:]
        for f in files {
            for (name, entry) in f.entries {
                guard let mapped = rename(name) else { continue }
                locations[mapped] = (f, entry)
                shapes[mapped] = entry.shape
            }
        }
        self.shapes = shapes
    }

    /// Opens a single file by path.
    public convenience init(path: String) throws {
        self.init(files: [try SafetensorsFile(path: path)])
    }

    public func load(_ name: String, shape: [Int]) throws -> Tensor {
        guard let (file, entry) = locations[name] else {
            throw SafetensorsError(.missingTensor, file: sourceName, tensor: name, "no such tensor")
        }
        return try file.tensor(entry)
    }
}
