import Foundation
import Support

/// Writes a loaded model as a Hugging Face folder: config.json, model.safetensors,
/// tokenizer.json. A Llama's config is written from its own; GPT-2, GPT-NeoX and GPT-J copy the
/// folder they were loaded from. GGUF q/k rows are permuted for adjacent-pair rotation; the
/// export undoes that so the folder uses Hugging Face's half-split rotation.
public enum HuggingFaceExport {
    /// `value` gives each parameter's values to write (an edit merged in); its own by default.
    public static func write(
        _ lm: LoadedModel, to dir: String, maxShardBytes: Int = SafetensorsShards.defaultMaxShardBytes,
        value: (Parameter) -> Tensor = { $0.value }
    ) throws {
        guard let llama = lm.model as? DecoderLM,
            case .ownConfig = Architecture.named(llama.architecture)?.folderExport, let llamaConfig = llama.config
        else {
            return try writeLikeSource(lm, to: dir, maxShardBytes: maxShardBytes, value: value)
        }
        try Folder.make(dir)
        var cfg = llamaConfig
        let interleaved = cfg.rope_interleaved == true
        cfg.rope_interleaved = nil
        var tensors: [(String, Tensor)] = []
        for p in llama.parameters {
            var t = value(p)
            if interleaved, isQueryOrKey(p.name) {
                t = unpermute(t, headDim: cfg.D)
            }
            tensors.append((p.name, t))
        }
        var configJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(cfg)) as! [String: Any]
        configJSON["model_type"] = "llama"
        configJSON["architectures"] = ["LlamaForCausalLM"]
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: configJSON, options: [.sortedKeys, .prettyPrinted]),
            to: dir + "/config.json")
        try SafetensorsShards.write(tensors, to: dir, maxShardBytes: maxShardBytes)
        // A folder's own tokenizer files are copied (its config.json is the one written above):
        // canonedit writes only GPT-2-style ones.
        if FileManager.default.fileExists(atPath: lm.path + "/tokenizer.json") {
            try copySourceFiles(lm, to: dir, except: "config.json")
            try writeMissingConfigs(dir)
        } else {
            let specials = (try? GGUFFile(path: lm.path)).map(TokenizerExport.init(gguf:)) ?? TokenizerExport()
            try specials.write(lm.tokenizer, contextLength: cfg.max_position_embeddings, to: dir)
        }
    }

    /// Files a Hugging Face folder keeps beside its weights, copied unchanged when exporting it.
    static let sourceFiles = [
        "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
        "merges.txt", "generation_config.json",
    ]

    /// GPT-2, GPT-NeoX, GPT-J, Qwen 2, Mistral and Gemma 3 loaded from a Hugging Face folder: the
    /// folder's config and tokenizer files copied unchanged, the weights under the names they were
    /// read by (GPT-2's Conv1D weights transposed back to (in, out); Gemma's norms stored as w for
    /// a scale of 1 + w again).
    static func writeLikeSource(
        _ lm: LoadedModel, to dir: String, maxShardBytes: Int, value: (Parameter) -> Tensor
    ) throws {
        var isDir: ObjCBool = false
        let export = Architecture.named(lm.model.architecture)?.folderExport
        guard lm.model is DecoderLM, case .likeSource(let storedForm) = export,
            FileManager.default.fileExists(atPath: lm.path + "/config.json", isDirectory: &isDir), !isDir.boolValue
        else {
            let names = Architecture.names { if case .likeSource = $0.folderExport { true } else { false } }
            throw CanonEditError(
                "export to a Hugging Face folder is implemented for llama models and for \(names) models loaded "
                    + "from a Hugging Face folder (this is \(lm.model.architecture) from \(lm.path))")
        }
        try Folder.make(dir)
        let tensors = lm.model.parameters.map { p in (p.name, storedForm(p.name, value(p))) }
        try SafetensorsShards.write(tensors, to: dir, maxShardBytes: maxShardBytes)
        try copySourceFiles(lm, to: dir)
        if !FileManager.default.fileExists(atPath: dir + "/tokenizer.json") {
            try AtomicFile.write(try lm.tokenizer.tokenizerJSON(), to: dir + "/tokenizer.json")
        }
        try writeMissingConfigs(dir)
    }

    /// Copies the `sourceFiles` the model's folder has (all but `except`) into `dir`, unchanged.
    static func copySourceFiles(_ lm: LoadedModel, to dir: String, except: String? = nil) throws {
        for f in sourceFiles where f != except && FileManager.default.fileExists(atPath: lm.path + "/" + f) {
            try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: lm.path + "/" + f)), to: dir + "/" + f)
        }
    }

    /// The tokenizer and generation configs a folder's source did not have: without a
    /// tokenizer_config.json, transformers picks the architecture's own tokenizer class (Gemma's
    /// wants an `<unk>` the vocabulary may not have) instead of reading tokenizer.json as it is.
    static func writeMissingConfigs(_ dir: String) throws {
        if !FileManager.default.fileExists(atPath: dir + "/tokenizer_config.json") {
            let config = #"{"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false}"#
            try AtomicFile.write(Data(config.utf8), to: dir + "/tokenizer_config.json")
        }
        if !FileManager.default.fileExists(atPath: dir + "/generation_config.json") {
            try AtomicFile.write(Data(#"{"do_sample": false}"#.utf8), to: dir + "/generation_config.json")
        }
    }

    /// A q or k projection, by module or weight name: the rows GGUF keeps in rotary-pair order.
    public static func isQueryOrKey(_ name: String) -> Bool {
        let module = name.hasSuffix(".weight") ? name.dropLast(".weight".count) : Substring(name)
        return module.hasSuffix("q_proj") || module.hasSuffix("k_proj")
    }

    /// The inverse of `unpermute`: rows h*D + j*D/2 + i (halves) -> h*D + 2i + j (pairs).
    public static func permute(_ w: Tensor, headDim D: Int) -> Tensor {
        let out = Tensor(w.shape)
        let cols = w.cols
        for r in 0..<w.rows {
            let h = r / D, within = r % D, j = within / (D / 2), i = within % (D / 2)
            (out.data + (h * D + 2 * i + j) * cols).update(from: w.data + r * cols, count: cols)
        }
        return out
    }

    /// Rows h*D + 2i + j (adjacent pairs) -> h*D + j*D/2 + i (halves).
    public static func unpermute(_ w: Tensor, headDim D: Int) -> Tensor {
        let out = Tensor(w.shape)
        let cols = w.cols
        for r in 0..<w.rows {
            let h = r / D, within = r % D, i = within / 2, j = within % 2
            let dst = h * D + j * (D / 2) + i
            (out.data + dst * cols).update(from: w.data + r * cols, count: cols)
        }
        return out
    }
}
