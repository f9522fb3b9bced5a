import DatoCore
import Foundation

/// Sharded weights as `save_pretrained(max_shard_size=...)` writes them: an index
/// (`diffusion_pytorch_model.safetensors.index.json`, `model.safetensors.index.json`, the `.bin.index.json`
/// forms and their variants) whose `weight_map` names, for every tensor, the shard file holding it; the
/// shards (safetensors or `torch.save` files) lie in the index's folder.
///
/// Refused, with the index named: a shard name that is not a plain file name (path separators, `..`), a
/// missing shard, a tensor mapped to a shard that lacks it, and a tensor held by two shards.
public final class ShardedCheckpoint: CheckpointContents {
    /// The index file.
    public let path: String
    public let shapes: [String: [Int]]
    /// The shard files, in name order.
    public let shardPaths: [String]
    private let shards: [CheckpointContents]
    /// Which shard holds each tensor.
    private let owner: [String: Int]

    /// Most shards an index may name (real ones have a few; each shard is mapped while the model loads).
    public static let maxShards = 4096

    /// The `weight_map` of an index file (its `metadata` is not needed).
    struct Index: Decodable {
        let weight_map: [String: String]
    }

    /// Reads the index at `path` and opens and checks every shard it names.
    public init(index path: String) throws {
        self.path = path
        let map = try ConfigFile.load(Index.self, from: path).weight_map
        let names = try Self.shardNames(map, index: path)
        shardPaths = Self.paths(names, index: path)
        shards = try zip(names, shardPaths).map { name, shard in
            guard FileManager.default.fileExists(atPath: shard) else {
                let count = map.values.filter { $0 == name }.count
                throw ModelError.layout(path: path, message: "the shard '\(name)' (listed for \(count) tensor(s)) is missing: no \(shard)")
            }
            return try openCheckpoint(shard)
        }
        owner = try Self.owners(shards, names: names, map: map, index: path)
        let shardShapes = shards.map(\.shapes)   // computed once: a safetensors file builds it from its header
        var shapes: [String: [Int]] = [:]
        for (name, i) in owner { shapes[name] = shardShapes[i][name] }
        self.shapes = shapes
    }

    /// The shard files an index names (checked as `init` checks them, but not opened).
    public static func shardFiles(index path: String) throws -> [String] {
        paths(try shardNames(try ConfigFile.load(Index.self, from: path).weight_map, index: path), index: path)
    }

    /// Shard names as paths in the index's folder.
    static func paths(_ names: [String], index: String) -> [String] {
        let folder = (index as NSString).deletingLastPathComponent
        return names.map { folder.isEmpty ? $0 : "\(folder)/\($0)" }
    }

    /// The distinct shard names of the weight map, checked to be plain file names of a known format.
    static func shardNames(_ map: [String: String], index: String) throws -> [String] {
        guard !map.isEmpty else { throw ModelError.config(file: index, field: "weight_map", message: "is empty: no tensors") }
        let names = Set(map.values).sorted()
        guard names.count <= maxShards else {
            throw ModelError.config(file: index, field: "weight_map", message: "names \(names.count) shards, more than the \(maxShards) accepted")
        }
        for name in names {
            let plain = !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
                && !name.contains("\0") && !name.hasPrefix("..")
            guard plain else {
                throw ModelError.config(file: index, field: "weight_map", message: "shard '\(name)' is not a plain file name in the index's folder (no path separators or '..')")
            }
            let lower = name.lowercased()
            guard [".safetensors", ".bin", ".pt", ".pth", ".ckpt"].contains(where: { lower.hasSuffix($0) }) else {
                throw ModelError.config(file: index, field: "weight_map", message: "shard '\(name)' is not a weights file (.safetensors, .bin, .pt, .pth or .ckpt)")
            }
        }
        return names
    }

    /// Which shard holds each tensor: every tensor in exactly one shard, and every mapped tensor in the shard
    /// the map names. Tensors a shard holds beyond the map are kept (diffusers loads them too).
    static func owners(_ shards: [CheckpointContents], names: [String], map: [String: String], index: String) throws -> [String: Int] {
        var owner: [String: Int] = [:], problems: [String] = []
        for (i, shard) in shards.enumerated() {
            for name in shard.shapes.keys.sorted() {
                if let first = owner[name] {
                    problems.append("tensor '\(name)' is in two shards: '\(names[first])' and '\(names[i])'")
                } else {
                    owner[name] = i
                }
            }
        }
        let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        for (name, shard) in map.sorted(by: { $0.key < $1.key }) where owner[name] != position[shard] {
            let actual = owner[name].map { "it is in '\(names[$0])'" } ?? "no shard holds it"
            problems.append("tensor '\(name)' is mapped to shard '\(shard)', which lacks it (\(actual))")
        }
        guard problems.isEmpty else { throw ModelError.weights(source: index, problems: problems) }
        return owner
    }

    public func tensor(_ name: String) throws -> Tensor {
        guard let i = owner[name] else { throw ModelError.weights(source: path, problems: ["missing tensor '\(name)'"]) }
        return try shards[i].tensor(name)
    }

    public func tensor(_ name: String, rows: Range<Int>) throws -> Tensor {
        guard let i = owner[name] else { throw ModelError.weights(source: path, problems: ["missing tensor '\(name)'"]) }
        return try shards[i].tensor(name, rows: rows)
    }
}
