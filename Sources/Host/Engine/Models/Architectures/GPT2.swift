import Foundation
import Support

/// GPT-2 settings, mirroring Hugging Face's `config.json` for `model_type: gpt2`.
public struct GPT2Config: Codable, Equatable {
    public var vocab_size: Int
    public var n_positions: Int
    public var n_embd: Int
    public var n_layer: Int
    public var n_head: Int
    public var n_inner: Int?
    public var activation_function: String?
    public var layer_norm_epsilon: Double?
    public var scale_attn_weights: Bool?
    public var scale_attn_by_inverse_layer_idx: Bool?
    public var tie_word_embeddings: Bool?

    /// Pre-LayerNorm blocks with learned positions, one fused c_attn projection laid out
    /// [q | k | v], GELU (tanh form) MLP, biases everywhere, output tied to wte.
    public func spec(source: String) throws -> DecoderSpec {
        let act = activation_function ?? "gelu_new"
        guard ["gelu_new", "gelu_pytorch_tanh", "gelu"].contains(act) else {
            throw CanonEditError("\(source): activation_function \(act) is not supported for gpt2 (gelu_new, gelu)")
        }
        guard scale_attn_weights ?? true else {
            throw CanonEditError("\(source): scale_attn_weights false is not supported")
        }
        return DecoderSpec(
            architecture: "gpt2", C: n_embd, H: n_head, G: n_head, D: n_embd / max(n_head, 1), F: n_inner ?? 4 * n_embd,
            L: n_layer, V: vocab_size, context: n_positions, norm: .layer, normEps: layer_norm_epsilon ?? 1e-5,
            residual: .sequential, mlp: act == "gelu" ? .geluErf : .geluTanh, qkv: .fusedBlocked,
            attentionBias: true, outputBias: true, mlpBias: true, rotaryDims: 0, rotaryBase: 10000,
            rotaryInterleaved: false, learnedPositions: true, tiedHead: tie_word_embeddings ?? true,
            headBias: false, inverseLayerScale: scale_attn_by_inverse_layer_idx ?? false)
    }

    /// `prefix` is "transformer." for GPT2LMHeadModel checkpoints ("" for bare GPT2Model).
    static func names(prefix: String) -> DecoderNames {
        DecoderNames(
            embed: prefix + "wte.weight", positions: prefix + "wpe.weight", finalNorm: prefix + "ln_f", head: "lm_head",
            layer: { prefix + "h.\($0)." }, attnNorm: "ln_1", mlpNorm: "ln_2", q: "", k: "", v: "", qkv: "attn.c_attn",
            o: "attn.c_proj", gate: nil, up: "mlp.c_fc", down: "mlp.c_proj")
    }

    /// GPT-2's Conv1D layers store weights (in, out); canonedit keeps (out, in).
    static func isConv1D(_ name: String) -> Bool {
        name.hasSuffix(".weight")
            && ["c_attn", "c_proj", "c_fc"].contains(where: { name.hasSuffix("." + $0 + ".weight") })
    }
}

extension Architecture {
    /// GPT-2, from a folder with or without the `transformer.` prefix; its Conv1D weights are
    /// stored (in, out) and transposed on load and on export.
    static let gpt2 = Architecture(
        name: "gpt2", modelTypes: ["gpt2"],
        folderRecipe: { f in
            let cfg = try f.decode(GPT2Config.self)
            let withPrefix = f.weights.has("transformer.wte.weight") || !f.weights.has("wte.weight")
            return DecoderRecipe(
                spec: try cfg.spec(source: f.cfgPath), names: GPT2Config.names(prefix: "transformer."),
                sourceConfig: cfg, source: f.cfgPath
            ) { name, shape in
                try f.tensor(
                    name, shape, prefixes: withPrefix ? [] : ["transformer."], transpose: GPT2Config.isConv1D(name))
            }
        },
        folderExport: .likeSource({ name, t in GPT2Config.isConv1D(name) ? t.transposed() : t }),
        peftFanInFanOut: true)
}
