import Foundation
import Support

/// A companion Backpack for a base decoder (issue: a real Backpack for SmolLM2). It shares
/// the base model's tokenizer, bottom blocks and embeddings, and trains only its own small
/// networks (about 10.6M parameters for SmolLM2):
///   H = residual stream entering block `prefix_layers` of the base (frozen)      (N, C)
///   α = causal softmax of q·k, [q | k] = LayerNorm(H) W + b, k senses of width d
///   senses = fc2(gelu(fc1(e))), e = the base's input embedding (frozen)          (N, k·C)
///   logits = (Σ_ℓ α[ℓ] S[ℓ]) Eᵀ, E = the base's output embedding (tied in SmolLM2)
/// A folder holds config.json (this struct) and model.safetensors; the base model is loaded
/// by name or path and must match `base_identity`.
public struct CompanionConfig: Codable, Equatable {
    public var model_type = "backpack-companion"
    public var base_model: String  // built-in name, or a path relative to the folder
    public var base_identity: String  // ModelIdentity of the base
    public var prefix_layers = 8
    public var num_senses = 16
    public var weight_width = 32  // d, per sense, of the query/key projections
    public var sense_hidden = 1024  // F, the sense MLP's hidden width
    /// How it was made: the command and the training figures (free-form, for people).
    public var recipe: [String: String]? = nil

    public init(base_model: String, base_identity: String) {
        self.base_model = base_model
        self.base_identity = base_identity
    }
}

public enum Companion {
    static let names = (
        norm: "companion.weight_net.norm", proj: "companion.weight_net.proj",
        fc1: "companion.sense_net.fc1", fc2: "companion.sense_net.fc2"
    )

    /// The companion on `base`, its tensors from `load(name, shape)`.
    public static func build(
        base: DecoderLM, config: CompanionConfig, load: (String, [Int]) throws -> Tensor
    ) throws -> BackpackLM {
        let (C, k, d, F) = (base.spec.C, config.num_senses, config.weight_width, config.sense_hidden)
        guard config.prefix_layers >= 1, config.prefix_layers <= base.spec.L else {
            throw CanonEditError(
                "companion prefix_layers \(config.prefix_layers) must be in 1...\(base.spec.L), the base model's blocks"
            )
        }
        guard k >= 1, k <= 4096, d >= 1, F >= 1 else {
            throw CanonEditError("companion sizes must be positive (senses \(k), width \(d), hidden \(F))")
        }
        // Each matrix's size, multiplied with overflow checks: a crafted config.json must not trap.
        for (what, dims) in [("the query/key projection", [2, k, d, C]), ("fc1", [F, C]), ("fc2", [k, C, F])] {
            let n = dims.reduce(Optional(1)) { n, x in
                n.flatMap {
                    let m = $0.multipliedReportingOverflow(by: x); return m.overflow ? nil : m.partialValue
                }
            }
            guard let n, n <= 1 << 31 else {
                throw CanonEditError(
                    "companion \(what) would be \(dims.map(String.init).joined(separator: " × ")) values, over 2^31 "
                        + "(senses \(k), width \(d), hidden \(F))")
            }
        }
        func p(_ n: String, _ s: [Int]) throws -> Parameter { Parameter(n, try load(n, s)) }
        func lin(_ n: String, _ o: Int, _ i: Int) throws -> Linear {
            Linear(name: n, weight: try p(n + ".weight", [o, i]), bias: try p(n + ".bias", [o]))
        }
        base.setTrainable(false)  // the base is frozen: no gradient for its embedding either
        let scratch = Scratch()
        let senses = MLPSenseNetwork(
            embed: base.embed, fc1: try lin(names.fc1, F, C), fc2: try lin(names.fc2, k * C, F), scratch: scratch)
        let weights = SenseWeightNetwork(
            encoder: .prefix(base, layers: config.prefix_layers),
            norm: (try p(names.norm + ".weight", [C]), try p(names.norm + ".bias", [C])),
            proj: try lin(names.proj, 2 * k * d, C), senses: k, scratch: scratch)
        // The sense network first: ModelIdentity fingerprints the first parameter's values.
        return BackpackLM(
            architecture: "backpack-companion", weights: weights, senses: senses, embed: base.head, scratch: scratch,
            parameters: senses.parameters + weights.ownParameters)
    }

    /// A fresh companion: weights N(0, 0.02), biases 0, the norm at identity; deterministic in the seed.
    public static func initialize(base: DecoderLM, config: CompanionConfig, seed: UInt64) throws -> BackpackLM {
        var rng = SeededRandom(seed: seed)
        return try build(base: base, config: config) { name, shape in
            let t = Tensor(shape)
            if name.hasSuffix(".weight") && shape.count == 2 {
                for i in 0..<t.count { t[i] = Float(0.02 * rng.normal()) }
            } else if name == names.norm + ".weight" {
                t.fill(1)
            }
            return t
        }
    }

    /// Writes config.json and model.safetensors (fp16 by default) into `directory`, atomically
    /// file by file, with a checksum of the stored tensors in the safetensors metadata.
    public static func save(
        _ bp: BackpackLM, config: CompanionConfig, to directory: String,
        dtype: SafetensorsWriter.DType = .f16
    ) throws {
        try Folder.make(directory)
        let tensors = bp.parameters.map { ($0.name, $0.value) }
        // The checksum is of the values as stored, so fp16 rounding happens first.
        let stored = tensors.map { (_, t) -> Tensor in dtype == .f16 ? t.roundedToHalf() : t }
        try SafetensorsWriter.write(
            tensors, to: directory + "/model.safetensors", dtype: dtype,
            metadata: ["checksum": Tensor.checksum(stored), "format": "canonedit.companion/1"])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(config), to: directory + "/config.json")
    }

    /// Loads a companion folder and its base model.
    public static func load(directory: String, configData: Data) throws -> LoadedModel {
        let cfgPath = directory + "/config.json"
        let config: CompanionConfig
        do { config = try JSONDecoder().decode(CompanionConfig.self, from: configData) } catch {
            throw CanonEditError("\(cfgPath): not a valid companion config: \(error)")
        }
        let baseLoaded = try LoadChain.enter(directory) {
            try ModelStore.load(ModelStore.spec(config.base_model, relativeTo: directory))
        }
        guard let base = baseLoaded.model as? DecoderLM else {
            throw CanonEditError("\(cfgPath): base model \(config.base_model) is not a decoder")
        }
        let identity = ModelIdentity.of(base)
        guard identity == config.base_identity else {
            throw CanonEditError(
                "\(cfgPath): base model \(config.base_model) has identity \(identity), but this companion was trained "
                    + "on \(config.base_identity)"
            )
        }
        let weightsPath = directory + "/model.safetensors"
        let file = try SafetensorsFile(path: weightsPath)
        let bp = try build(base: base, config: config) { name, shape in
            guard let s = file.shape(of: name) else {
                throw CanonEditError("\(weightsPath): tensor \(name) is missing")
            }
            guard s == shape else {
                throw CanonEditError("\(weightsPath): tensor \(name) is \(s), the config needs \(shape)")
            }
            let t = Tensor(shape)
            try file.load(name, into: t)
            return t
        }
        // `save` sums the same tensors in the same order: the model's parameters.
        if let sum = file.metadata["checksum"], sum != Tensor.checksum(bp.parameters.map(\.value)) {
            throw CanonEditError("\(weightsPath): checksum mismatch; the companion's weights are corrupt")
        }
        for p in bp.parameters { p.requiresGrad = false }
        return LoadedModel(
            model: bp, tokenizer: baseLoaded.tokenizer, path: directory,
            name: "companion Backpack of \(baseLoaded.name) (\(URL(fileURLWithPath: directory).lastPathComponent))")
    }

    /// The companion's config, if `directory` holds one.
    public static func config(of directory: String) -> CompanionConfig? {
        guard let data = MappedFile.contents(directory + "/config.json") else { return nil }
        return try? JSONDecoder().decode(CompanionConfig.self, from: data)
    }
}
