import Foundation
import Support

/// Hugging Face folders: `config.json` picks the architecture by `model_type`.
enum HuggingFaceLoader {
    /// The folder's config, weight headers and tokenizer; the weights are read by `load()`.
    static func outline(directory: String) throws -> ModelOutline {
        let cfgPath = directory + "/config.json"
        guard let data = MappedFile.contents(cfgPath) else {
            throw CanonEditError(
                "\(directory): no config.json (a model folder needs config.json, weights and a tokenizer)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw formatError(cfgPath, "not a JSON object")
        }
        let type = obj["model_type"] as? String ?? ""
        let archs = obj["architectures"] as? [String] ?? []
        let name = URL(fileURLWithPath: directory).lastPathComponent
        if Architecture.backpackCompanion.modelTypes.contains(type) {
            return ModelOutline(path: directory, tokenizer: nil, decoder: nil, parameterCount: 0, weightBytes: 0) {
                try Companion.load(directory: directory, configData: data)
            }
        }
        let weights = try SafetensorsCheckpoint(directory: directory)
        let tok = try Tokenizer(directory: directory)
        let folder = Folder(cfgPath: cfgPath, data: data, type: type, weights: weights)
        let recipe = try folder.recipe(architectures: archs)
        return ModelOutline(
            path: directory, tokenizer: tok, decoder: recipe,
            parameterCount: weights.tensorNames.reduce(0) { $0 + (weights.shape(of: $1)?.reduce(1, *) ?? 0) },
            weightBytes: weights.residentBytes
        ) {
            let model: CausalLM = try recipe.map { try DecoderLM($0) } ?? folder.backpack()
            return LoadedModel(model: model, tokenizer: tok, path: directory, name: name)
        }
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

        /// The decoder `model_type` names (Architecture.all), or nil for a Backpack (built by `backpack()`).
        func recipe(architectures archs: [String]) throws -> DecoderRecipe? {
            let recipe = try Architecture.forModelType(type, architectures: archs, source: cfgPath).folderRecipe?(self)
            try recipe?.spec.check(source: cfgPath)
            return recipe
        }

        func backpack() throws -> CausalLM {
            let cfg = try decode(BackpackConfig.self)
            // Conv1D layers of the GPT-2 network and of the sense network store (in, out).
            return try BackpackLM(config: cfg, source: cfgPath, shape: { weights.shape(of: $0) }) { name, shape in
                let conv = GPT2Config.isConv1D(name) && !name.contains("sense_weight_net")
                return try tensor(name, shape, prefixes: [], transpose: conv)
            }
        }
    }
}
