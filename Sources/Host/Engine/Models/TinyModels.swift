import Foundation
import Support

/// Tiny random models for tests and for `canonedit plugins check`: small enough to run in
/// milliseconds, with a byte-level tokenizer over the 256 byte symbols.
public enum TinyModels {
    /// A byte tokenizer: ids 0…255 are bytes, 256 is `<|endoftext|>`.
    public static func byteTokenizer() -> Tokenizer {
        let vocab = (0..<256).map { String(ByteLevelAlphabet.byteToScalar[$0]) } + ["<|endoftext|>"]
        return try! Tokenizer(
            vocab: vocab, merges: [], specials: ["<|endoftext|>": 256], preTokenizer: PreTokenizer(), source: "tiny")
    }

    /// A Backpack over the byte vocabulary: 2 GPT-2 layers of width 16, 4 senses.
    public static func backpack(seed: UInt64 = 1) throws -> BackpackLM {
        let json =
            #"{"vocab_size": 257, "n_positions": 64, "n_embd": 16, "n_layer": 2, "n_head": 2, "num_senses": 4, "#
            + #""scale_attn_by_inverse_layer_idx": true}"#
        let cfg = try JSONDecoder().decode(BackpackConfig.self, from: Data(json.utf8))
        var rng = SeededRandom(seed: seed)
        return try BackpackLM(
            config: cfg, source: "tiny",
            shape: { $0.hasSuffix("sense_weight_net.c_attn.weight") ? [2 * 4 * 4, 16] : nil }
        ) { name, shape in
            let n = shape.reduce(1, *)
            if name.contains("ln") && name.hasSuffix(".weight") {
                return Tensor(shape, values: [Float](repeating: 1, count: n))
            }
            return Tensor(shape, values: (0..<n).map { _ in 0.3 * Float(rng.normal()) })
        }
    }

    public static func llama(
        seed: UInt64 = 1, layers: Int = 2, vocab: Int = 257, interleaved: Bool = true, tied: Bool = true
    ) throws -> LlamaModel {
        let cfg = LlamaConfig(
            hidden_size: 16, intermediate_size: 24, num_hidden_layers: layers, num_attention_heads: 4,
            num_key_value_heads: 2, head_dim: 4, rms_norm_eps: 1e-5, rope_theta: 10000,
            vocab_size: vocab, max_position_embeddings: 64, tie_word_embeddings: tied,
            rope_interleaved: interleaved)
        var rng = SeededRandom(seed: seed)
        let recipe = try DecoderRecipe(llama: cfg, source: "tiny") { name, shape in
            let n = shape.reduce(1, *)
            if name.hasSuffix("layernorm.weight") || name == "model.norm.weight" {
                return Tensor(shape, values: (0..<n).map { _ in 1 + 0.2 * Float(rng.normal()) })
            }
            return Tensor(shape, values: (0..<n).map { _ in 0.3 * Float(rng.normal()) })
        }
        return try DecoderLM(recipe)
    }
}
