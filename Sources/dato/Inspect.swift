import ArgumentParser
import DatoCore
import DatoModels
import Foundation

/// `dato inspect FILE|DIR`: what a checkpoint holds, or what a diffusers folder is, and how swift-dato reads it.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a .safetensors or .ckpt file's tensors, its layout and family (SD 1.x/2.x), the inferred architecture and prediction type, and what would be ignored; or show a diffusers folder's family, configs, weights files, tokenizer and scheduler."
    )

    @Argument(help: "A .safetensors or .ckpt file, or a diffusers folder.") var file: String
    @Flag(help: "Skip the per-tensor listing.") var summary = false
    @Option(name: .customLong("prediction-type"), help: "Show the file as run with this prediction type (epsilon or v) instead of diffusers' rule.")
    var predictionType: PredictionType?
    @Option(help: "For a diffusers folder: show the weights files of this variant (as dato generate's --variant).")
    var variant: String?

    func run() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), isDirectory.boolValue {
            return try FolderInspection.run(file, variant: variant, predictionType: predictionType)
        }
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
        do {
            try UnsupportedArchitecture.check(singleFile: contents.shapes, path: file)
        } catch {
            print("architecture: \(error)")
            return
        }
        let layout = SingleFileLayout(names: names)
        guard !layout.unet.isEmpty || !layout.vae.isEmpty || !layout.textEncoder.isEmpty else {
            print("layout: not an SD 1.x/2.x single-file checkpoint (a diffusers component file or something else)")
            return
        }
        let described = SingleFileDescription(contents, prediction: predictionType)
        print("layout: original single-file \(described.family.rawValue) checkpoint: UNet \(layout.unet.count), VAE \(layout.vae.count), text encoder \(layout.textEncoder.count) tensors")
        if !layout.ema.isEmpty { print("EMA copy of the UNet: \(layout.ema.count) tensors (used with --ema)") }
        let configs = try ArchitectureInference.configs(shapes: contents.shapes, source: file, prediction: described.prediction.type)
        let u = configs.unet, v = configs.vae, t = configs.textEncoder
        print("family: \(described.family.rawValue) (its published diffusers config supplies what shapes cannot tell: heads, upcast attention, native size)")
        print("prediction type: \(described.prediction.type.rawValue) (\(described.prediction.origin))")
        print("UNet: block_out_channels \(u.blockOutChannels), layers_per_block \(u.layersPerBlock), down \(u.downBlockTypes), cross_attention_dim \(u.crossAttentionDim), \(u.useLinearProjection ? "linear" : "conv") projections; heads \(u.headsPerBlock) and \(u.normNumGroups) norm groups assumed, upcast_attention \(u.upcastAttention), native size \((u.sampleSize ?? 64) * v.scaleFactor) px")
        print("VAE: block_out_channels \(v.blockOutChannels), layers_per_block \(v.layersPerBlock), latent_channels \(v.latentChannels)")
        let used = described.textLayout == .openCLIP ? ", \(t.numHiddenLayers) used (SD 2 conditions on the penultimate layer)" : ""
        print("text encoder: \(described.textLayout.rawValue) layout, \(described.textLayersHeld) layers held\(used); hidden \(t.hiddenSize), intermediate \(t.intermediateSize), \(t.hiddenAct), vocabulary \(t.vocabSize), positions \(t.maxPositionEmbeddings); \(t.numAttentionHeads) heads assumed")
        print("ignored: \(layout.ignored.count) tensor(s)\(layout.ignored.isEmpty ? "" : ": " + layout.ignored.sorted().prefix(8).joined(separator: ", ") + (layout.ignored.count > 8 ? ", ..." : ""))")
        if !layout.unknown.isEmpty {
            print("unknown (skipped with a warning): \(layout.unknown.sorted().prefix(20).joined(separator: ", "))")
        }
    }
}
