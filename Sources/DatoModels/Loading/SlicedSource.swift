import DatoCore

/// A `TensorSource` whose tensors are stored tensors or blocks of their rows, read straight from the file
/// (e.g. q, k and v out of OpenCLIP's stacked `in_proj_weight`): no tensor is ever read whole to be cut up.
public final class SlicedSource: TensorSource {
    let contents: CheckpointContents
    public let sourceName: String
    public let shapes: [String: [Int]]?
    private let stored: [String: (name: String, rows: Range<Int>?)]

    /// `slices` maps each stored name to the diffusers tensors read from it; the rows must lie inside the
    /// stored tensor's first dimension (the caller checks the stored shapes).
    init(_ contents: CheckpointContents, slices: [String: [OpenCLIPKeyMap.Slice]]) {
        self.contents = contents
        sourceName = contents.path
        var shapes: [String: [Int]] = [:], stored: [String: (name: String, rows: Range<Int>?)] = [:]
        let all = contents.shapes   // computed once: a safetensors file builds it from its header
        for (name, parts) in slices {
            guard let shape = all[name] else { continue }
            for part in parts {
                shapes[part.name] = part.rows.map { [$0.count] + shape.dropFirst() } ?? shape
                stored[part.name] = (name, part.rows)
            }
        }
        self.shapes = shapes
        self.stored = stored
    }

    public func load(_ name: String, shape: [Int]) throws -> Tensor {
        guard let s = stored[name] else { throw ModelError.weights(source: sourceName, problems: ["missing tensor '\(name)'"]) }
        if let rows = s.rows { return try contents.tensor(s.name, rows: rows) }
        return try contents.tensor(s.name)
    }
}

extension SlicedSource {
    /// The text encoder of an SD 2.x single file (`OpenCLIPKeyMap`), for a `config` with `numHiddenLayers`
    /// layers. Every stacked q/k/v projection that is loaded must be [3 D, D] (bias [3 D]) with D the
    /// config's width, and every key under the prefix must be known: otherwise one error lists them all.
    public static func openCLIP(_ contents: CheckpointContents, config: CLIPTextConfig) throws -> SlicedSource {
        let p = OpenCLIPKeyMap.prefix, d = config.hiddenSize
        var slices: [String: [OpenCLIPKeyMap.Slice]] = [:], problems: [String] = []
        for (key, shape) in contents.shapes where key.hasPrefix(p) {
            switch OpenCLIPKeyMap.map(String(key.dropFirst(p.count)), layers: config.numHiddenLayers, width: d) {
            case .load(let parts):
                if parts.count == 3, let bad = stackedShapeProblem(shape, width: d) {
                    problems.append("tensor '\(key)' has shape \(shape): \(bad)")
                } else {
                    slices[key] = parts
                }
            case .ignored: continue
            case .unknown: problems.append("unknown OpenCLIP text encoder key '\(key)'")
            }
        }
        guard problems.isEmpty else { throw ModelError.weights(source: contents.path, problems: problems.sorted()) }
        return SlicedSource(contents, slices: slices)
    }

    /// Why a stacked q/k/v projection of shape `s` does not fit width `d` (nil if it does).
    static func stackedShapeProblem(_ s: [Int], width d: Int) -> String? {
        let (rows, overflow) = d.multipliedReportingOverflow(by: 3)
        guard !overflow, let first = s.first, s.count == 1 || s.count == 2 else {
            return "expected q, k and v stacked as [\(3 &* d), \(d)] (or [\(3 &* d)] for the bias)"
        }
        guard first % 3 == 0 else { return "\(first) rows do not split into q, k and v (not a multiple of 3)" }
        guard first == rows, s.count == 1 || s[1] == d else {
            return "expected [\(rows)\(s.count == 2 ? ", \(d)" : "")]: q, k and v of the text encoder's width \(d)"
        }
        return nil
    }
}
