import Foundation
import Support

/// GGUF files: the architecture comes from `general.architecture`.
public enum GGUFLoader {
    /// The file's header, metadata and tokenizer; the weights are read by the outline's `load()`.
    static func outline(path: String) throws -> ModelOutline {
        let g = try GGUFFile(path: path)
        let arch = try g.string("general.architecture")
        let tok = try Tokenizer(gguf: g)
        let recipe = try Architecture.forGGUF(arch, source: path).ggufRecipe!(g, tok, path)
        try recipe.spec.check(source: path)
        let name = g.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).lastPathComponent
        return ModelOutline(
            path: path, tokenizer: tok, decoder: recipe,
            parameterCount: g.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }, weightBytes: g.residentBytes
        ) { LoadedModel(model: try DecoderLM(recipe), tokenizer: tok, path: path, name: name) }
    }

    /// Hugging Face parameter name -> llama.cpp tensor name, for Gemma 3.
    public static func ggufName(gemma3 name: String) -> String {
        let map = [
            "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
            "post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
            "post_feedforward_layernorm": "post_ffw_norm",
        ]
        let parts = name.split(separator: ".")
        if parts.count >= 5, parts[1] == "layers", let m = map[parts[3...].dropLast().joined(separator: ".")] {
            return "blk.\(parts[2]).\(m).\(parts.last!)"
        }
        return ggufName(llama: name)
    }

    /// Hugging Face parameter name -> llama.cpp tensor name.
    public static func ggufName(llama name: String) -> String {
        let fixed = [
            "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight",
        ]
        if let f = fixed[name] { return f }
        let parts = name.split(separator: ".")  // model.layers.{i}.{module...}.weight
        guard parts.count >= 5, parts[1] == "layers" else { return name }
        let sub = parts[3...].dropLast().joined(separator: ".")
        let map = [
            "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
            "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
            "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
        ]
        return "blk.\(parts[2]).\(map[sub] ?? sub).\(parts.last!)"
    }
}
