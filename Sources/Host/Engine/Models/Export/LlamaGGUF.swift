import Foundation
import Support

/// A Llama loaded from a Hugging Face folder, described for GGUF: the metadata llama.cpp reads
/// (architecture keys from config.json, the byte-level BPE vocabulary and merges) and the
/// weights under llama.cpp's names with q/k rows in its adjacent-pair rotary order.
public enum LlamaGGUF {
    public static func metadata(_ cfg: LlamaConfig, tokenizer tok: Tokenizer, name: String) throws -> GGUFMetadata {
        guard tok.pipeline == nil, tok.sentencePiece == nil else {
            throw CanonEditError(
                "\(name): GGUF metadata is written for GPT-2-style byte-level tokenizers; this one is a "
                    + "tokenizer.json pipeline, which has no GGUF pre-tokenizer name canonedit writes")
        }
        guard !tok.preTokenizer.addPrefixSpace else {
            throw CanonEditError("\(name): a tokenizer that adds a prefix space has no GGUF pre-tokenizer name")
        }
        var m = GGUFMetadata()
        let a = "llama."
        m.set("general.architecture", .string("llama"))
        m.set("general.name", .string(name))
        m.set(a + "context_length", .u32(UInt32(cfg.max_position_embeddings)))
        m.set(a + "embedding_length", .u32(UInt32(cfg.hidden_size)))
        m.set(a + "block_count", .u32(UInt32(cfg.num_hidden_layers)))
        m.set(a + "feed_forward_length", .u32(UInt32(cfg.intermediate_size)))
        m.set(a + "attention.head_count", .u32(UInt32(cfg.num_attention_heads)))
        m.set(a + "attention.head_count_kv", .u32(UInt32(cfg.num_key_value_heads ?? cfg.num_attention_heads)))
        m.set(a + "attention.key_length", .u32(UInt32(cfg.D)))
        m.set(a + "attention.value_length", .u32(UInt32(cfg.D)))
        m.set(a + "attention.layer_norm_rms_epsilon", .f32(Float(cfg.rms_norm_eps)))
        m.set(a + "rope.dimension_count", .u32(UInt32(cfg.D)))
        m.set(a + "rope.freq_base", .f32(Float(cfg.rope_theta ?? 10000)))
        m.set(a + "vocab_size", .u32(UInt32(cfg.vocab_size)))
        m.set("tokenizer.ggml.model", .string("gpt2"))
        // llama.cpp's names for the two pre-tokenizers canonedit implements.
        m.set("tokenizer.ggml.pre", .string(tok.preTokenizer.individualDigits ? "smollm" : "gpt2"))
        m.set("tokenizer.ggml.tokens", .strings(tok.vocab))
        let special = Set(tok.specials.values)
        m.set("tokenizer.ggml.token_type", .i32s((0..<tok.count).map { special.contains(Int32($0)) ? 3 : 1 }))
        m.set("tokenizer.ggml.merges", .strings(tok.mergeList.map { $0.0 + " " + $0.1 }))
        return m
    }

    /// The parameters as GGUF tensors; `value` gives each one's values (an edit merged in).
    public static func tensors(_ model: DecoderLM, headDim D: Int, value: (Parameter) -> Tensor) -> [(String, Tensor)] {
        model.parameters.map { p in
            let t = value(p)
            let rows = HuggingFaceExport.isQueryOrKey(p.name) ? HuggingFaceExport.permute(t, headDim: D) : t
            return (GGUFLoader.ggufName(llama: p.name), rows)
        }
    }
}
