import ArgumentParser
import DatoCore
import DatoModels
import Foundation

/// `dato inspect FILE`: what a safetensors checkpoint holds and how swift-dato reads it.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a .safetensors file's tensors, its layout, the inferred architecture and what would be ignored."
    )

    @Argument(help: "A .safetensors or .ckpt file.") var file: String
    @Flag(help: "Skip the per-tensor listing.") var summary = false

    func run() throws {
        let contents = try openCheckpoint(file)
        let names = contents.shapes.keys.sorted()
        let st = contents as? SafetensorsFile
        if !summary {
            for n in st?.names ?? names {
                print("\(n)  \(st?.entries[n]?.dtype.rawValue ?? "-")  \(contents.shapes[n] ?? [])")
            }
            print("")
        }
        if let st {
            let dtypes = Dictionary(grouping: st.entries.values, by: { $0.dtype.rawValue }).mapValues(\.count)
            print("\(names.count) tensors (\(dtypes.keys.sorted().map { "\($0): \(dtypes[$0] ?? 0)" }.joined(separator: ", ")))")
            if !st.metadata.isEmpty { print("metadata: \(st.metadata.keys.sorted().joined(separator: ", "))") }
        } else {
            print("\(names.count) tensors in a PyTorch checkpoint (read without executing its pickle)")
        }
        let layout = SingleFileLayout(names: names)
        guard !layout.unet.isEmpty || !layout.vae.isEmpty || !layout.textEncoder.isEmpty else {
            print("layout: not an SD 1.x single-file checkpoint (a diffusers component file or something else)")
            return
        }
        print("layout: original single-file SD checkpoint: UNet \(layout.unet.count), VAE \(layout.vae.count), text encoder \(layout.textEncoder.count) tensors")
        if !layout.ema.isEmpty { print("EMA copy of the UNet: \(layout.ema.count) tensors (used with --ema)") }
        let configs = try ArchitectureInference.configs(shapes: contents.shapes, source: file)
        let u = configs.unet, v = configs.vae, t = configs.textEncoder
        print("UNet: block_out_channels \(u.blockOutChannels), layers_per_block \(u.layersPerBlock), down \(u.downBlockTypes), cross_attention_dim \(u.crossAttentionDim), \(u.useLinearProjection ? "linear" : "conv") projections; heads \(u.headsPerBlock.first ?? 0) and \(u.normNumGroups) norm groups assumed")
        print("VAE: block_out_channels \(v.blockOutChannels), layers_per_block \(v.layersPerBlock), latent_channels \(v.latentChannels)")
        print("text encoder: hidden \(t.hiddenSize), layers \(t.numHiddenLayers), intermediate \(t.intermediateSize), vocabulary \(t.vocabSize), positions \(t.maxPositionEmbeddings); \(t.numAttentionHeads) heads assumed")
        print("ignored: \(layout.ignored.count) tensor(s)\(layout.ignored.isEmpty ? "" : ": " + layout.ignored.sorted().prefix(8).joined(separator: ", ") + (layout.ignored.count > 8 ? ", ..." : ""))")
        if !layout.unknown.isEmpty {
            print("unknown (skipped with a warning): \(layout.unknown.sorted().prefix(20).joined(separator: ", "))")
        }
    }
}
