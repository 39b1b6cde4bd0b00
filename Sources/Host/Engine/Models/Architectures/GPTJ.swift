import Foundation
import Support

/// GPT-J settings, mirroring Hugging Face's `config.json` for `model_type: gptj`.
public struct GPTJConfig: Codable, Equatable {
    public var vocab_size: Int
    public var n_positions: Int
    public var n_embd: Int
    public var n_layer: Int
    public var n_head: Int
    public var n_inner: Int?
    public var rotary_dim: Int?
    public var activation_function: String?
    public var layer_norm_epsilon: Double?
    public var tie_word_embeddings: Bool?

    /// One LayerNorm feeding attention and MLP in parallel (x += attn(n1(x)) + mlp(n1(x))),
    /// separate q/k/v/out projections without biases, rotary on the first rotary_dim dims of
    /// each head in adjacent pairs, GELU (tanh form), untied lm_head with a bias.
    public func spec(source: String) throws -> DecoderSpec {
        let act = activation_function ?? "gelu_new"
        guard ["gelu_new", "gelu", "gelu_pytorch_tanh"].contains(act) else {
            throw CanonEditError("\(source): activation_function \(act) is not supported for gptj")
        }
        let D = n_embd / max(n_head, 1)
        return DecoderSpec(
            architecture: "gptj", C: n_embd, H: n_head, G: n_head, D: D, F: n_inner ?? 4 * n_embd, L: n_layer,
            V: vocab_size, context: n_positions, norm: .layer, normEps: layer_norm_epsilon ?? 1e-5,
            residual: .parallelOneNorm, mlp: act == "gelu" ? .geluErf : .geluTanh, qkv: .separate,
            attentionBias: false, outputBias: false, mlpBias: true, rotaryDims: rotary_dim ?? D, rotaryBase: 10000,
            rotaryInterleaved: true, learnedPositions: false, tiedHead: tie_word_embeddings ?? false,
            headBias: !(tie_word_embeddings ?? false), inverseLayerScale: false)
    }

    static let names = DecoderNames(
        embed: "transformer.wte.weight", positions: nil, finalNorm: "transformer.ln_f", head: "lm_head",
        layer: { "transformer.h.\($0)." }, attnNorm: "ln_1", mlpNorm: nil,
        q: "attn.q_proj", k: "attn.k_proj", v: "attn.v_proj", qkv: "", o: "attn.out_proj",
        gate: nil, up: "mlp.fc_in", down: "mlp.fc_out")
}

extension Architecture {
    /// GPT-J, from a folder.
    static let gptJ = Architecture(
        name: "gptj", modelTypes: ["gptj"],
        folderRecipe: { f in
            let cfg = try f.decode(GPTJConfig.self)
            return DecoderRecipe(
                spec: try cfg.spec(source: f.cfgPath), names: GPTJConfig.names, sourceConfig: cfg, source: f.cfgPath
            ) { name, shape in try f.tensor(name, shape, prefixes: ["transformer."]) }
        })
}
