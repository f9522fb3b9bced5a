import DatoCore

/// torch.nn.GroupNorm over channels-last tensors.
public struct GroupNorm {
    public let groups: Int
    public let eps: Float
    let gamma: Tensor, beta: Tensor

    public init(_ scope: Scope, channels: Int, groups: Int, eps: Float) {
        (gamma, beta) = scope.norm(channels)
        self.groups = groups
        self.eps = eps
    }

    /// Normalises `x`, optionally followed by SiLU.
    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        Normalization.groupNorm(x, groups: groups, gamma: gamma, beta: beta, eps: eps, silu: silu)
    }

    /// Normalises `x` (plus `adding`, [B, C], per batch row and channel, when given; optionally followed by SiLU)
    /// as input for layers computing in `format`: in bf16 the result is rounded once here instead of by every
    /// layer that reads it.
    public func callAsFunction(_ x: Tensor, adding: Tensor? = nil, silu: Bool = false,
                               for format: Precision) -> any LayerInput {
        guard format == .bf16 else {
            return Normalization.groupNorm(x, adding: adding, groups: groups, gamma: gamma, beta: beta, eps: eps, silu: silu)
        }
        return Normalization.groupNormBF16(x, adding: adding, groups: groups, gamma: gamma, beta: beta, eps: eps,
                                           silu: silu)
    }
}

/// torch.nn.LayerNorm over the last dimension.
public struct LayerNorm {
    public let eps: Float
    let gamma: Tensor, beta: Tensor

    public init(_ scope: Scope, channels: Int, eps: Float) {
        (gamma, beta) = scope.norm(channels)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Normalization.layerNorm(x, gamma: gamma, beta: beta, eps: eps)
    }

    /// Normalises `x` as input for layers computing in `format` (rounded to bf16 once here in bf16).
    public func callAsFunction(_ x: Tensor, for format: Precision) -> any LayerInput {
        guard format == .bf16 else { return self(x) }
        return Normalization.layerNormBF16(x, gamma: gamma, beta: beta, eps: eps)
    }
}
