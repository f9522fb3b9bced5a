import ArgumentParser
import DatoAccel
import DatoCore
import DatoModels
import Foundation

/// `dato bench pruning`: one SD 1.5 level-0 transformer block (4096 tokens at 512 px, 320 channels, batch 2)
/// dense and under each pruning method, with the partition / scoring overhead timed on its own.
struct BenchPruning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pruning",
        abstract: "Time a 4096-token transformer block dense and pruned (DaTo, ToMe, AT-EDM), with partition overhead."
    )

    @Option(help: "Latent side (64 = 512 px; the block has side x side tokens).") var latent = 64
    @Option(help: "Repeats (median).") var repeats = 5
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var convolution: ConvolutionOptions

    func validate() throws {
        try checkArguments {
            try ArgumentCheck.integer(latent, "--latent", in: 8...128)
            try ArgumentCheck.integer(repeats, "--repeats", in: 1...1000)
        }
    }

    func run() throws {
        threadOptions.apply()
        let params = Parameters(RandomSource(seed: 4))
        let compute = convolution.settings(.fp32)
        let block = try BasicTransformerBlock(params.scope("b", compute: compute), dim: 320, heads: 8, contextDim: 768)
        let n = latent * latent
        let x = try RandomSource(seed: 5).load("x", shape: [2, n, 320])
        let context = try RandomSource(seed: 6).load("c", shape: [2, 77, 768])
        let site = TransformerBlockSite(path: "down_blocks.0.attentions.0.transformer_blocks.0", grid: (latent, latent),
                                        latent: (latent, latent))
        print("SD 1.5 level-0 transformer block: \(n) tokens, 320 channels, 8 heads, batch 2, \(Parallel.threadCount) threads (median of \(repeats))")
        var dense = 0.0
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            try body()
            var t: [Double] = []
            for _ in 0..<repeats {
                let s = Date()
                try body()
                t.append(Date().timeIntervalSince(s))
            }
            let m = t.sorted()[t.count / 2]
            if dense == 0 { dense = m }
            print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: " %9.1f ms  %5.2fx of dense", m * 1e3, dense / m))
        }
        try time("dense block") { try block(x.copy(), context: context) }
        try time("  self-attention alone (norm1 + attn1)") { _ = try block.attn1(block.norm1(x)) }
        func policy(_ name: String, _ method: String, ratio: Double, call: Int = 5) throws {
            guard let p = try PruningMethod(parsing: method).makePolicy(seed: 1, similarity: compute.similarity) else { return }
            p.reset(steps: 50, cfg: true)
            p.begin(call: call, step: call, ratio: ratio)
            try time(name) { _ = try p.run(block, on: x.copy(), context: context, at: site) }
        }
        try policy("dato 0.4 (self-attention on kept tokens)", "dato", ratio: 0.4)
        try policy("dato 0.4, cross-attention and FFN too", "dato,cross,ffn", ratio: 0.4)
        let scores = (0..<2).map { _ in (0..<n).map { Float($0 % 7) } }
        time("  dato partition alone (similarities, top-k, sources)") {
            _ = DaTo.partition(x, grid: (latent, latent), scores: scores, ratio: 0.4, alignCFG: true, search: compute.similarity)
        }
        try policy("tome 0.5 (attn1 merged)", "tome", ratio: 0.5)
        try policy("atedm 0.6 inline (map, G-WPR, attn2 + FFN on kept)", "atedm,dsap=0", ratio: 0.6)
        let map = Tensor(shape: [2, n, n], zeroed: false)
        try time("  self-attention with head-mean map") { _ = try block.attn1(block.norm1(x), probabilityMean: map) }
        time("  G-WPR (10 iterations) + mask + sources, 2 rows") {
            _ = ATEDM(similarity: compute.similarity).select(map: map, h1: x, pruning: Int(0.6 * Double(n)))
        }
        var received = ATEDM.Settings()
        received.walk = GWPR.Walk()
        time("  the same with gwpr=received,self=1") {
            _ = ATEDM(settings: received, similarity: compute.similarity).select(map: map, h1: x, pruning: Int(0.6 * Double(n)))
        }
        // Temporal: a map call stores the mask, the next call reuses it for the whole block.
        var s = ATEDM.Settings()
        s.temporal = true; s.dsapTau = 0
        let temporal = ATEDM(settings: s, similarity: compute.similarity)
        temporal.reset(steps: 50, cfg: true)
        temporal.begin(call: 0, step: 0, ratio: 0.6)
        _ = try temporal.run(block, on: x.copy(), context: context, at: site)
        temporal.begin(call: 1, step: 1, ratio: 0.6)
        try time("atedm 0.6 temporal (stored mask, whole block on kept)") {
            _ = try temporal.run(block, on: x.copy(), context: context, at: site)
        }
    }
}
