/// How a library names a component's weights files, and the order in which it looks for them.
public struct WeightsNaming: Sendable, Equatable {
    /// The single safetensors file (`diffusion_pytorch_model.safetensors`).
    public let safetensors: String
    /// The single `torch.save` file (`diffusion_pytorch_model.bin`).
    public let pickle: String
    /// Whether the sharded index is looked for before the single file (diffusers) or after it (transformers).
    public let indexFirst: Bool

    /// diffusers' models (UNet, VAE).
    public static let diffusers = WeightsNaming(safetensors: "diffusion_pytorch_model.safetensors",
                                                pickle: "diffusion_pytorch_model.bin", indexFirst: true)
    /// transformers' models (the CLIP text encoder).
    public static let transformers = WeightsNaming(safetensors: "model.safetensors", pickle: "pytorch_model.bin", indexFirst: false)

    /// diffusers' and transformers' `_add_variant`: the variant goes before the last extension
    /// (`model.safetensors` -> `model.fp16.safetensors`, `model.safetensors.index.json` ->
    /// `model.safetensors.index.fp16.json`).
    public static func adding(_ variant: String?, to name: String) -> String {
        guard let variant, let dot = name.lastIndex(of: ".") else { return name }
        return "\(name[..<dot]).\(variant)\(name[dot...])"
    }

    /// The file names of one variant (nil: the plain files) in the order of preference: safetensors before
    /// `.bin`, each as a single file and as a sharded index (plus the index name diffusers wrote for variants
    /// before 0.27, `<name>.<variant>.index.json`, which diffusers still reads).
    public func candidates(variant: String?) -> [String] {
        var names: [String] = []
        for file in [safetensors, pickle] {
            var indexes = [Self.adding(variant, to: "\(file).index.json")]
            if let variant { indexes.append("\(file).\(variant).index.json") }
            let single = Self.adding(variant, to: file)
            names += indexFirst ? indexes + [single] : [single] + indexes
        }
        return names
    }

    /// The variant a file name belongs to, if it is one of this naming's variant forms
    /// (`<stem>.<variant>.safetensors`, `<stem>.<variant>-00001-of-00002.bin`, `<file>.index.<variant>.json`).
    func variant(of name: String) -> String? {
        for file in [safetensors, pickle] {
            guard let dot = file.lastIndex(of: ".") else { continue }
            let stem = String(file[..<dot]), ext = String(file[dot...])
            if name.hasPrefix("\(file).index."), name.hasSuffix(".json") {
                let v = name.dropFirst("\(file).index.".count).dropLast(".json".count)
                if !v.isEmpty, !v.contains(".") { return String(v) }
            }
            if name.hasPrefix("\(stem)."), name.hasSuffix(ext) {
                let middle = name.dropFirst(stem.count + 1).dropLast(ext.count)
                let v = middle.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
                if !v.isEmpty, !v.contains("."), !middle.contains(".") { return v }
            }
        }
        return nil
    }
}
