import DatoCore

/// torch.nn.GroupNorm over channels-last tensors.
public struct GroupNorm {
    public let groups: Int
    public let eps: Float
    let gamma: Tensor, beta: Tensor
    /// Where the layer's time goes (its scope's `ComputeSettings.profiler`).
    let profiler: Profiler?

    public init(_ scope: Scope, channels: Int, groups: Int, eps: Float) {
        (gamma, beta) = scope.norm(channels)
        self.groups = groups
        self.eps = eps
        profiler = scope.compute.profiler
    }

    /// Normalises `x`, optionally followed by SiLU.
    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        profiler.measure(.groupNorm) {
            Normalization.groupNorm(x, groups: groups, gamma: gamma, beta: beta, eps: eps, silu: silu)
        }
    }

    /// Normalises `x` (plus `adding`, [B, C], per batch row and channel, when given; optionally followed by SiLU)
    /// as input for layers computing in `format`: in bf16 the result is rounded once here instead of by every
    /// layer that reads it.
    public func callAsFunction(_ x: Tensor, adding: Tensor? = nil, silu: Bool = false,
                               for format: Precision) -> any LayerInput {
        profiler.measure(.groupNorm) {
            guard format == .bf16 else {
                return Normalization.groupNorm(x, adding: adding, groups: groups, gamma: gamma, beta: beta, eps: eps,
                                               silu: silu)
            }
            return Normalization.groupNormBF16(x, adding: adding, groups: groups, gamma: gamma, beta: beta, eps: eps,
                                               silu: silu)
        }
    }
}

/// torch.nn.LayerNorm over the last dimension.
public struct LayerNorm {
    public let eps: Float
    let gamma: Tensor, beta: Tensor
    /// Where the layer's time goes (its scope's `ComputeSettings.profiler`).
    let profiler: Profiler?

    public init(_ scope: Scope, channels: Int, eps: Float) {
        (gamma, beta) = scope.norm(channels)
        self.eps = eps
        profiler = scope.compute.profiler
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        profiler.measure(.layerNorm) { Normalization.layerNorm(x, gamma: gamma, beta: beta, eps: eps) }
    }

    /// Normalises `x` as input for layers computing in `format` (rounded to bf16 once here in bf16).
    public func callAsFunction(_ x: Tensor, for format: Precision) -> any LayerInput {
        guard format == .bf16 else { return self(x) }
        return profiler.measure(.layerNorm) { Normalization.layerNormBF16(x, gamma: gamma, beta: beta, eps: eps) }
    }
}
