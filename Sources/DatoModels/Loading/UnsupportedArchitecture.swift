import Foundation

/// Recognises the models this engine does not run (SD-XL, SD 3, Flux and other transformers, inpainting,
/// depth, upscaling and other conditioned UNets, unCLIP, pipelines of other classes) from names, shapes and
/// configs alone, before any weight is read, and refuses them with one error naming what was found: never
/// a silently wrong image from a model read as SD 1.x.
public enum UnsupportedArchitecture {
    /// What the engine runs, closing every refusal.
    public static let supported = "swift-dato runs SD 1.x and SD 2.x (StableDiffusionPipeline)"
    /// The pipeline classes of the diffusers folders it runs (a folder saved from the image-to-image pipeline
    /// holds the same components, and diffusers' text-to-image pipeline loads it too).
    public static let pipelineClasses: Set<String> = ["StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"]

    /// "<path>: this is <what> (found <evidence>); swift-dato runs ...".
    public static func refusal(_ path: String, _ what: String, found evidence: String) -> ModelError {
        .layout(path: path, message: "this is \(what) (found \(evidence)); \(supported)")
    }

    /// Refuses a single-file checkpoint of another architecture, by its tensor names and shapes.
    public static func check(singleFile shapes: [String: [Int]], path: String) throws {
        let names = shapes.keys.sorted()
        func first(_ test: (String) -> Bool) -> String? { names.first(where: test) }
        let rules: [(String, (String) -> Bool)] = [
            ("an SD-XL model", { $0.hasPrefix("conditioner.embedders.") }),
            ("an SD 3 model (a transformer)", { $0.hasPrefix("text_encoders.") || $0.contains("joint_blocks.") }),
            ("a Flux model (a transformer)", { $0.contains("double_blocks.") || $0.contains("single_blocks.") }),
            ("an SD 2.x depth-to-image model", { $0.hasPrefix("depth_model.") }),
            ("an SD 2.x unCLIP model", { $0.hasPrefix("embedder.") || $0.hasPrefix("noise_augmentor.") }),
            ("a UNet with an added or class embedding", {
                $0.hasPrefix(LDMKeyMap.unetPrefix + "label_emb.") || $0.hasPrefix("add_embedding.")
            }),
        ]
        // The named layouts first, then the UNet's channels (an x4 upscaler also has a class embedding), then
        // added or class embeddings.
        for (what, test) in rules.dropLast() {
            if let key = first(test) { throw refusal(path, what, found: key) }
        }
        let convIn = LDMKeyMap.unetPrefix + "input_blocks.0.0.weight", convOut = LDMKeyMap.unetPrefix + "out.2.weight"
        if let cin = shapes[convIn], cin.count == 4, let cout = shapes[convOut], cout.count == 4, cin[1] != cout[0] {
            throw refusal(path, conditionedUNet(inChannels: cin[1], outChannels: cout[0]),
                          found: "in_channels \(cin[1]) in '\(convIn)' for \(cout[0]) output channels")
        }
        if let (what, test) = rules.last, let key = first(test) { throw refusal(path, what, found: key) }
    }

    /// Refuses a diffusers folder of another architecture, by `model_index.json` (its components and
    /// `_class_name`), a `transformer/` folder, and `unet/config.json`. Files that are absent are not checked.
    public static func check(folder dir: String) throws {
        let indexPath = "\(dir)/model_index.json"
        if FileManager.default.fileExists(atPath: indexPath) {
            let index = try ConfigFile.load(ConfigProbe.self, from: indexPath)
            if let key = ["text_encoder_2", "tokenizer_2"].first(where: index.keys.contains) {
                throw refusal(dir, "an SD-XL model", found: "\(key) in model_index.json")
            }
            if index.keys.contains("transformer") {
                throw refusal(dir, "a transformer model (\(index.className ?? "no _class_name"))", found: "transformer in model_index.json")
            }
            if let cls = index.className, !pipelineClasses.contains(cls) {
                throw refusal(dir, pipelineKind(cls), found: "_class_name '\(cls)' in model_index.json")
            }
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: "\(dir)/transformer", isDirectory: &isDir), isDir.boolValue {
            throw refusal(dir, "a transformer model", found: "a transformer/ folder")
        }
        let unetPath = "\(dir)/unet/config.json"
        guard FileManager.default.fileExists(atPath: unetPath) else { return }
        let unet = try ConfigFile.load(ConfigProbe.self, from: unetPath)
        // Refusals by a UNet config field name the file and the field.
        func refuse(_ field: String, _ what: String, _ value: String) -> ModelError {
            .config(file: unetPath, field: field, message: "this is \(what) (found \(field) \(value) in unet/config.json); \(supported)")
        }
        if let cls = unet.className, cls != "UNet2DConditionModel" { throw refuse("_class_name", "a \(cls) model", "'\(cls)'") }
        if let kind = unet.additionEmbedType {
            throw refuse("addition_embed_type", kind == "text_time" ? "an SD-XL model" : "a UNet with an added embedding", "'\(kind)'")
        }
        if let cin = unet.inChannels, cin != (unet.outChannels ?? 4) {
            throw refuse("in_channels", conditionedUNet(inChannels: cin, outChannels: unet.outChannels ?? 4), "\(cin)")
        }
    }

    /// What a UNet whose input channels differ from its output channels is, by the published variants'
    /// channel counts (all with 4 outputs).
    static func conditionedUNet(inChannels c: Int, outChannels out: Int) -> String {
        switch (c, out) {
        case (9, 4): return "an inpainting model"
        case (8, 4): return "an instruct-pix2pix model"
        case (7, 4): return "an x4 upscaler"
        case (5, 4): return "an SD 2.x depth-to-image model"
        default: return "a UNet whose \(c) input channels differ from its \(out) output channels (not a text-to-image UNet)"
        }
    }

    /// What a pipeline class other than StableDiffusionPipeline is, in words.
    static func pipelineKind(_ cls: String) -> String {
        let kinds: [(String, String)] = [
            ("StableDiffusionXL", "an SD-XL model"), ("StableDiffusion3", "an SD 3 model"), ("Flux", "a Flux model"),
            ("Inpaint", "an inpainting model"), ("Depth2Img", "an SD 2.x depth-to-image model"),
            ("Upscale", "an upscaler"), ("UnCLIP", "an unCLIP model"), ("Onnx", "an ONNX export"),
        ]
        return kinds.first { cls.contains($0.0) }?.1 ?? "a \(cls) model"
    }
}

/// The few fields of `model_index.json` or `unet/config.json` the architecture checks read, and its keys.
struct ConfigProbe: Decodable {
    let keys: Set<String>
    let className: String?
    let additionEmbedType: String?
    let inChannels: Int?, outChannels: Int?

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        keys = Set(c.allKeys.map(\.stringValue))
        func value<T: Decodable>(_ name: String) -> T? { try? c.decodeIfPresent(T.self, forKey: Key(stringValue: name)) }
        className = value("_class_name")
        additionEmbedType = value("addition_embed_type")
        inChannels = value("in_channels")
        outChannels = value("out_channels")
    }
}
