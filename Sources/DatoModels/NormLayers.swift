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
}
