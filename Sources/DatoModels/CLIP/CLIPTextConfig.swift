/// transformers `CLIPTextConfig` (text_encoder/config.json), the fields the text encoder needs.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numAttentionHeads = 12
    public var numHiddenLayers = 12
    public var maxPositionEmbeddings = 77
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5
    public var eosTokenId = 49407
    public var bosTokenId = 49406

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numAttentionHeads = "num_attention_heads", numHiddenLayers = "num_hidden_layers"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps", eosTokenId = "eos_token_id", bosTokenId = "bos_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        let d = CLIPTextConfig()
        vocabSize = try v(.vocabSize, d.vocabSize)
        hiddenSize = try v(.hiddenSize, d.hiddenSize)
        intermediateSize = try v(.intermediateSize, d.intermediateSize)
        numAttentionHeads = try v(.numAttentionHeads, d.numAttentionHeads)
        numHiddenLayers = try v(.numHiddenLayers, d.numHiddenLayers)
        maxPositionEmbeddings = try v(.maxPositionEmbeddings, d.maxPositionEmbeddings)
        hiddenAct = try v(.hiddenAct, d.hiddenAct)
        layerNormEps = try v(.layerNormEps, d.layerNormEps)
        eosTokenId = try v(.eosTokenId, d.eosTokenId)
        bosTokenId = try v(.bosTokenId, d.bosTokenId)
    }

    /// Loads `config.json`.
    public static func load(_ path: String) throws -> CLIPTextConfig {
        let c = try ConfigFile.load(CLIPTextConfig.self, from: path)
        try c.validate(file: path)
        return c
    }

    /// Rejects configurations this engine does not implement or whose values are out of `ModelBounds`, naming
    /// the field; the parameter count it describes is bounded too. Nothing is allocated before this passes.
    public func validate(file: String = "text encoder config") throws {
        let check = ConfigChecker(file: file)
        try check.check("hidden_size", hiddenSize, in: ModelBounds.channels)
        try check.check("num_attention_heads", numAttentionHeads, in: ModelBounds.heads)
        guard hiddenSize % numAttentionHeads == 0 else {
            throw check.error("num_attention_heads", "\(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
        try check.check("intermediate_size", intermediateSize, in: ModelBounds.intermediateSize)
        try check.check("num_hidden_layers", numHiddenLayers, in: ModelBounds.textLayers)
        try check.check("vocab_size", vocabSize, in: ModelBounds.vocabulary)
        try check.check("max_position_embeddings", maxPositionEmbeddings, in: ModelBounds.positions)
        try check.check("layer_norm_eps", layerNormEps, in: ModelBounds.epsilon)
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else { throw check.error("hidden_act", "unsupported activation '\(hiddenAct)'") }
        try check.check(parameters: try describedParameters(file: file), of: "text encoder")
    }
}
