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

    public func validate(file: String = "text encoder config") throws {
        func bad(_ f: String, _ m: String) -> ModelError { .config(file: file, field: f, message: m) }
        guard hiddenSize > 0, numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw bad("num_attention_heads", "\(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else { throw bad("hidden_act", "unsupported activation '\(hiddenAct)'") }
        guard vocabSize > 0, maxPositionEmbeddings > 0, numHiddenLayers > 0, intermediateSize > 0 else {
            throw bad("vocab_size", "sizes must be positive")
        }
    }
}
