import Foundation
import Support

/// Mistral settings, mirroring Hugging Face's `config.json` for `model_type: mistral`: the
/// Llama block with every layer attending within `sliding_window` positions (none when null).
public struct MistralConfig: Codable, Equatable {
    public var vocab_size: Int
    public var hidden_size: Int
    public var intermediate_size: Int
    public var num_hidden_layers: Int
    public var num_attention_heads: Int
    public var num_key_value_heads: Int?
    public var head_dim: Int?
    public var rms_norm_eps: Double?
    public var rope_theta: Double?
    public var rope_parameters: RotaryParameters?
    public var rope_scaling: RotaryParameters?
    public var max_position_embeddings: Int
    public var tie_word_embeddings: Bool?
    public var sliding_window: Int?
    public var hidden_act: String?

    public func spec(source: String) throws -> DecoderSpec {
        _ = try RotaryParameters.check(rope_parameters, scaling: rope_scaling, act: hidden_act, source: source)
        let D = head_dim ?? hidden_size / num_attention_heads
        var spec = DecoderSpec(
            architecture: "mistral", C: hidden_size, H: num_attention_heads,
            G: num_key_value_heads ?? num_attention_heads, D: D, F: intermediate_size, L: num_hidden_layers,
            V: vocab_size, context: max_position_embeddings, norm: .rms, normEps: rms_norm_eps ?? 1e-6,
            residual: .sequential, mlp: .swiglu, qkv: .separate, attentionBias: false, outputBias: false,
            mlpBias: false, rotaryDims: D, rotaryBase: rope_parameters?.rope_theta ?? rope_theta ?? 10000,
            rotaryInterleaved: false, learnedPositions: false, tiedHead: tie_word_embeddings ?? false, headBias: false,
            inverseLayerScale: false)
        if let window = sliding_window {
            spec.slidingLayers = Array(repeating: true, count: num_hidden_layers)
            spec.slidingWindow = window
        }
        return spec
    }
}
