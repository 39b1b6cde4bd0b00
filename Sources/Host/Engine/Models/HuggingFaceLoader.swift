import Foundation
import Support

/// Hugging Face folders: `config.json` picks the architecture by `model_type`.
enum HuggingFaceLoader {
    static func load(directory: String) throws -> LoadedModel {
        let cfgPath = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: cfgPath) else {
            throw CanonEditError(
                "\(directory): no config.json (a model folder needs config.json, weights and a tokenizer)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw formatError(cfgPath, "not a JSON object")
        }
        let type = obj["model_type"] as? String ?? ""
        let archs = obj["architectures"] as? [String] ?? []
        if type == "backpack-companion" { return try Companion.load(directory: directory, configData: data) }
        let weights = try SafetensorsCheckpoint(directory: directory)
        try ModelStore.checkMemory(
            parameters: weights.tensorNames.reduce(0) { $0 + (weights.shape(of: $1)?.reduce(1, *) ?? 0) },
            path: directory)
        let tok = try BPETokenizer(directory: directory)
        let folder = Folder(cfgPath: cfgPath, data: data, type: type, weights: weights)
        let model = try folder.model(architectures: archs)
        return LoadedModel(
            model: model, tokenizer: tok, path: directory, name: URL(fileURLWithPath: directory).lastPathComponent)
    }

    /// A folder's config and weights, for building the model its `model_type` names.
    struct Folder {
        let cfgPath: String
        let data: Data
        let type: String
        let weights: SafetensorsCheckpoint

        func decode<T: Decodable>(_ t: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: data) } catch {
                throw formatError(cfgPath, "not a valid \(type) config: \(error)")
            }
        }

        /// Loads by Hugging Face name; checkpoints saved from a bare base model lack the
        /// wrapper's prefix ("transformer.", "gpt_neox."), so that is tried too.
        func tensor(_ name: String, _ shape: [Int], prefixes: [String], transpose: Bool = false) throws -> Tensor {
            var found = name
            if !weights.has(name),
                let p = prefixes.first(where: { name.hasPrefix($0) && weights.has(String(name.dropFirst($0.count))) })
            {
                found = String(name.dropFirst(p.count))
            }
            guard transpose else { return try weights.weight(found, shape: shape) }
            let t = try weights.tensor(found, shape: [shape[1], shape[0]])
            return t.transposed()
        }

        func model(architectures archs: [String]) throws -> CausalLM {
            let model: CausalLM
            switch type {
            case "llama":
                let cfg = try decode(LlamaConfig.self)
                model = try DecoderLM(config: cfg, source: cfgPath) { name, shape in
                    try tensor(name, shape, prefixes: ["model."])
                }
            case "gpt2":
                let cfg = try decode(GPT2Config.self)
                let withPrefix = weights.has("transformer.wte.weight") || !weights.has("wte.weight")
                model = try DecoderLM(
                    spec: try cfg.spec(source: cfgPath), names: GPT2Config.names(prefix: "transformer."),
                    sourceConfig: cfg,
                    source: cfgPath
                ) { name, shape in
                    try tensor(
                        name, shape, prefixes: withPrefix ? [] : ["transformer."], transpose: GPT2Config.isConv1D(name))
                }
            case "gpt_neox":
                let cfg = try decode(GPTNeoXConfig.self)
                model = try DecoderLM(
                    spec: try cfg.spec(source: cfgPath), names: GPTNeoXConfig.names, sourceConfig: cfg, source: cfgPath
                ) {
                    name, shape in
                    // Checkpoints written by transformers ≥ 5 in memory name the head lm_head.
                    let n =
                        name == "embed_out.weight" && !weights.has(name) && weights.has("lm_head.weight")
                        ? "lm_head.weight" : name
                    return try tensor(n, shape, prefixes: ["gpt_neox."])
                }
            case "gptj":
                let cfg = try decode(GPTJConfig.self)
                model = try DecoderLM(
                    spec: try cfg.spec(source: cfgPath), names: GPTJConfig.names, sourceConfig: cfg, source: cfgPath
                ) {
                    name, shape in try tensor(name, shape, prefixes: ["transformer."])
                }
            case "qwen2", "mistral":
                let spec =
                    type == "qwen2"
                    ? try decode(Qwen2Config.self).spec(source: cfgPath)
                    : try decode(MistralConfig.self).spec(source: cfgPath)
                model = try DecoderLM(spec: spec, names: LlamaConfig.names, source: cfgPath) { name, shape in
                    try tensor(name, shape, prefixes: ["model."])
                }
            case "gemma3_text", "gemma3":
                let cfg = try decode(Gemma3Config.self)
                model = try DecoderLM(gemma3: cfg, source: cfgPath, normsStoreOffset: true) { name, shape in
                    try tensor(name, shape, prefixes: ["model."])
                }
            case "backpack-gpt2", "backpack":
                let cfg = try decode(BackpackConfig.self)
                // Conv1D layers of the GPT-2 network and of the sense network store (in, out).
                model = try BackpackLM(config: cfg, source: cfgPath, shape: { weights.shape(of: $0) }) { name, shape in
                    let conv = GPT2Config.isConv1D(name) && !name.contains("sense_weight_net")
                    return try tensor(name, shape, prefixes: [], transpose: conv)
                }
            default:
                throw formatError(
                    cfgPath,
                    "model_type \"\(type)\" (architectures \(archs)) is not supported (llama, gpt2, gpt_neox, gptj, "
                        + "qwen2, mistral, gemma3_text, backpack-gpt2, backpack-companion)"
                )
            }
            return model
        }
    }
}
