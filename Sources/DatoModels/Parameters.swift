import DatoCore

/// Where model weights come from: a name -> shape listing and a loader.
public protocol TensorSource {
    /// A human-readable name for error messages (usually a file path).
    var sourceName: String { get }
    /// The shape of every tensor the source offers, by (diffusers) name; nil means "any name".
    var shapes: [String: [Int]]? { get }
    /// Loads one tensor as fp32.
    func load(_ name: String, shape: [Int]) throws -> Tensor
}

/// Hands out a model's parameters by diffusers name, checking shapes, and collects every problem so
/// that a bad checkpoint produces one error listing all missing, mis-shaped and unexpected tensors.
public final class Parameters {
    let source: TensorSource
    private(set) var used: Set<String> = []
    private(set) var problems: [String] = []
    /// Names the source may carry that this model does not use, without it being an error.
    var ignorable: (String) -> Bool = { _ in false }

    public init(_ source: TensorSource) { self.source = source }

    /// The tensor `name` with the expected `shape`; on any problem records it and returns zeros.
    public func take(_ name: String, _ shape: [Int]) -> Tensor {
        used.insert(name)
        if let shapes = source.shapes {
            guard let found = shapes[name] else {
                problems.append("missing tensor '\(name)' (expected shape \(shape))")
                return Tensor(shape: shape)
            }
            if found != shape {
                // A 1x1 convolution may stand for a linear layer and the reverse.
                let squeezable = found.count == 4 && found[2] == 1 && found[3] == 1 && Array(found[0..<2]) == shape
                    || shape.count == 4 && shape[2] == 1 && shape[3] == 1 && Array(shape[0..<2]) == found
                if !squeezable {
                    problems.append("tensor '\(name)' has shape \(found), expected \(shape)")
                    return Tensor(shape: shape)
                }
            }
        }
        do {
            let t = try source.load(name, shape: shape)
            return t.shape == shape ? t : t.reshape(shape)
        } catch {
            problems.append("tensor '\(name)': \(error)")
            return Tensor(shape: shape)
        }
    }

    /// Refuses to build a model of `parameters` values from a source that holds far fewer values under `prefix`:
    /// building takes every tensor the model asks for and stands zeros in for the missing or mis-shaped ones, so
    /// a config describing a larger model than its weights (an SD-sized UNet config next to a tiny file) would
    /// allocate gigabytes before the weights error. A few missing tensors still reach the error that lists them
    /// all. Sources that offer any name (`shapes` nil) are not checked.
    public func reserve(_ parameters: Int, for model: String, under prefix: String) throws {
        guard let shapes = source.shapes else { return }
        var held = 0
        for (name, shape) in shapes where prefix.isEmpty || name.hasPrefix(prefix + ".") {
            var count = 1
            for d in shape {
                let (c, overflow) = count.multipliedReportingOverflow(by: max(d, 0))
                count = overflow ? Int.max : c
            }
            let (sum, overflow) = held.addingReportingOverflow(count)
            held = overflow ? Int.max : sum
        }
        // Twice the values held, plus 1 Mi values (4 MiB) of slack for small models.
        let slack = 1 << 20
        let allowed = held > (Int.max - slack) / 2 ? Int.max : 2 * held + slack
        guard parameters <= allowed else {
            throw ModelError.weights(source: source.sourceName, problems: [
                "holds \(held) values, but the config describes a \(model) of \(parameters) parameters: the config does not match these weights",
            ])
        }
    }

    /// A view that prefixes every name with `prefix.`, whose layers compute as `compute` says.
    public func scope(_ prefix: String, compute: ComputeSettings = ComputeSettings()) -> Scope {
        Scope(params: self, prefix: prefix, compute: compute)
    }

    /// Throws one error listing every problem, plus tensors under `prefix` the model never asked for.
    public func finish(unexpectedUnder prefix: String = "") throws {
        var all = problems
        if let shapes = source.shapes {
            let extra = shapes.keys.filter { $0.hasPrefix(prefix) && !used.contains($0) && !ignorable($0) }.sorted()
            all += extra.map { "unexpected tensor '\($0)' with shape \(shapes[$0] ?? [])" }
        }
        if !all.isEmpty { throw ModelError.weights(source: source.sourceName, problems: all) }
    }
}

/// A `Parameters` view under a dotted prefix, mirroring diffusers' module tree, with the compute settings every
/// layer made from it receives.
public struct Scope {
    let params: Parameters
    let prefix: String
    /// How the layers made from this scope compute (precision, kernels, profiler).
    public let compute: ComputeSettings

    /// The sub-module `name` (e.g. `scope["down_blocks"][0]`).
    public subscript(_ name: String) -> Scope {
        Scope(params: params, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", compute: compute)
    }
    public subscript(_ index: Int) -> Scope { self[String(index)] }

    /// Refuses to build a model of `parameters` values under this scope from a source holding far fewer
    /// (see `Parameters.reserve`).
    public func reserve(_ parameters: Int, for model: String) throws {
        try params.reserve(parameters, for: model, under: prefix)
    }

    /// The parameter `name` in this module.
    public func tensor(_ name: String, _ shape: [Int]) -> Tensor {
        params.take(prefix.isEmpty ? name : "\(prefix).\(name)", shape)
    }

    /// A convolution `weight`/`bias` pair.
    public func conv(_ cin: Int, _ cout: Int, kernel: Int, stride: Int = 1, padding: Int? = nil,
                     bias: Bool = true) throws -> Conv2D {
        let w = tensor("weight", [cout, cin, kernel, kernel])
        let b = bias ? tensor("bias", [cout]) : nil
        return try Conv2D(weight: w, bias: b, stride: stride, padding: padding ?? kernel / 2, compute: compute)
    }

    /// A convolution with explicit (top, left, bottom, right) padding.
    public func conv(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, padding: (Int, Int, Int, Int)) throws -> Conv2D {
        try Conv2D(weight: tensor("weight", [cout, cin, kernel, kernel]), bias: tensor("bias", [cout]),
                   stride: stride, padding: padding, compute: compute)
    }

    /// A linear layer.
    public func linear(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws -> Linear {
        try Linear(weight: tensor("weight", [outFeatures, inFeatures]), bias: bias ? tensor("bias", [outFeatures]) : nil,
                   compute: compute)
    }

    /// A linear layer stored either as [out, in] or as a 1x1 convolution [out, in, 1, 1].
    public func pointwise(_ inFeatures: Int, _ outFeatures: Int, asConv: Bool) throws -> Linear {
        let shape = asConv ? [outFeatures, inFeatures, 1, 1] : [outFeatures, inFeatures]
        return try Linear(weight: tensor("weight", shape), bias: tensor("bias", [outFeatures]), compute: compute)
    }

    /// A norm layer's affine parameters (`weight`, `bias`).
    public func norm(_ channels: Int) -> (Tensor, Tensor) {
        (tensor("weight", [channels]), tensor("bias", [channels]))
    }
}
