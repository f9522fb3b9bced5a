/// What a single-file checkpoint is, beyond its tensors: its family, how it stores the text encoder, and the
/// prediction type it will be run with and why (the file does not record it).
public struct SingleFileDescription: Sendable, Equatable {
    /// SD 1.x or SD 2.x, by the text encoder's layout or the cross-attention width.
    public let family: ModelFamily
    /// How the file stores its text encoder (CLIP or OpenCLIP names).
    public let textLayout: TextEncoderLayout
    /// Text encoder layers the file holds (an OpenCLIP tower holds one more than SD 2 runs).
    public let textLayersHeld: Int
    /// The prediction type the file is run with unless a `--config` folder's scheduler says otherwise, and why.
    public let prediction: PredictionChoice

    /// Describes `contents`; `prediction` (the `--prediction-type` flag) overrides diffusers' rule.
    public init(_ contents: CheckpointContents, prediction flag: PredictionType? = nil) {
        let shapes = contents.shapes
        family = ModelFamily.of(singleFile: shapes)
        textLayout = TextEncoderLayout.of(shapes)
        switch textLayout {
        case .openCLIP: textLayersHeld = ArchitectureInference.openCLIPResblocks(shapes)
        case .clip: textLayersHeld = Self.clipLayers(shapes)
        case .none: textLayersHeld = 0
        }
        prediction = flag.map { PredictionChoice($0, origin: "--prediction-type") }
            ?? PredictionChoice.inferred(family: family, globalStep: contents.globalStep)
    }

    static func clipLayers(_ shapes: [String: [Int]]) -> Int {
        let prefixes = [LDMKeyMap.textPrefix + "text_model.", LDMKeyMap.textPrefix]
        guard let p = prefixes.first(where: { shapes[$0 + "encoder.layers.0.mlp.fc1.weight"] != nil }) else { return 0 }
        var n = 0
        while n <= ArchitectureInference.maxTextLayers, shapes[p + "encoder.layers.\(n).mlp.fc1.weight"] != nil { n += 1 }
        return n
    }
}
