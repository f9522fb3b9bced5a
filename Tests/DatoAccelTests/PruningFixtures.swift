@testable import DatoAccel
import DatoCore
import DatoModels
import Foundation
import XCTest
import DatoTestSupport

/// The pruning oracles of tools/fixtures/pruning_oracles.py.
enum PruningFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DatoPipelineTests/Fixtures/pruning")

    static func file(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: folder.appendingPathComponent("\(name).safetensors").path)
    }

    /// The oracle's BasicTransformerBlock (dim 32, 2 heads, context width 24).
    static func block() throws -> BasicTransformerBlock {
        let params = Parameters(try SafetensorsSource(path: folder.appendingPathComponent("block.safetensors").path))
        let block = try BasicTransformerBlock(params.scope("block"), dim: 32, heads: 2, contextDim: 24)
        try params.finish()
        return block
    }

    /// Rows of a [B, K] float tensor of indices as integers.
    static func indices(_ t: Tensor) -> [[Int]] {
        let k = t.dim(1)
        return (0..<t.dim(0)).map { r in (0..<k).map { Int(t[r * k + $0]) } }
    }

    static func rows(_ t: Tensor) -> [[Float]] {
        let k = t.dim(-1)
        return (0..<(t.count / k)).map { r in (0..<k).map { t[r * k + $0] } }
    }

    static func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.count == b.count)
        var worst: Float = 0
        for i in 0..<a.count { worst = max(worst, difference(a[i], b[i])) }
        return worst
    }
}
