// CondFT: fine-tuning with conditional likelihood (Gangadhar & Stratos, "Model Editing by
// Standard Fine-Tuning"). The host's task loss already scores only the target tokens; this
// plugin adds (1) pseudo-paraphrases of each edit prompt, made by prefixing text the unedited
// model generates, and (2) locality examples: other prompts with the continuation the unedited
// model already gives them, so it keeps giving it. Trains LoRA adapters or every parameter.
import PluginAPI
import PluginKit

final class CondFT {
    var trained: [OpaquePointer] = []
    var augmented: [(ids: [Int32], firstTarget: Int)] = []  // generated prefix + edit prompt + suffix
    var locality: [(ids: [Int32], firstTarget: Int)] = []  // prompt + the unedited model's continuation
    var perUpdate = 1, localityPerUpdate = 1, localityWeight = 1.0
    var adam = AdamSettings()
}

private let descriptor = makeDescriptor(
    id: "condft", version: "1.0.0",
    description: "Conditional-likelihood finetuning with generated-prefix paraphrases and locality examples",
    capabilities: UInt64(CE_CAP_TRAINS) | UInt64(CE_CAP_NEEDS_ACTIVATIONS),
    hyperparameters: [
        hyperparameter(
            "params", CE_HP_STRING, defaultString: "lora", noSweep: true, help: "lora (low-rank adapters) or full"),
        hyperparameter(
            "prefixes", CE_HP_INT, min: 0, max: 64, default: 4, sweep: 0...8, help: "generated prefixes per edit prompt"
        ),
        hyperparameter(
            "prefix_length", CE_HP_INT, min: 1, max: 128, default: 8, sweep: 4...16, help: "tokens per generated prefix"
        ),
        hyperparameter(
            "augmented_per_update", CE_HP_INT, min: 0, max: 64, default: 2, noSweep: true,
            help: "paraphrases added to each update"),
        hyperparameter(
            "locality_corpus", CE_HP_STRING, defaultString: "", noSweep: true,
            help: "{\"text\"} JSONL of unrelated prompts (first 24 tokens each); empty: no locality examples"),
        hyperparameter(
            "locality_examples", CE_HP_INT, min: 0, max: 10000, default: 16, noSweep: true,
            help: "locality prompts to prepare"),
        hyperparameter(
            "locality_per_update", CE_HP_INT, min: 0, max: 64, default: 2, noSweep: true,
            help: "locality examples added to each update"),
        hyperparameter(
            "locality_weight", CE_HP_FLOAT, min: 0, max: 100, default: 1, sweep: 0.1...10, logScale: true,
            help: "weight of locality losses"),
        hyperparameter(
            "locality_tokens", CE_HP_INT, min: 1, max: 16, default: 2, noSweep: true,
            help: "continuation tokens kept per locality prompt"),
    ] + LowRankSettings.schema + AdamSettings.schema,
    create: { hostPtr, out in
        Instance.create(hostPtr, out) { host in
            let c = CondFT()
            c.adam = try AdamSettings(host)
            c.perUpdate = Int(try host.number("augmented_per_update"))
            c.localityPerUpdate = Int(try host.number("locality_per_update"))
            c.localityWeight = try host.number("locality_weight")
            return c
        }
    },
    prepare: { inst, hostPtr in
        Instance.run(inst, hostPtr, as: CondFT.self) { me, host in
            guard host.extensionTable(CE_EXT_ACTIVATIONS, as: ce_activations_ext.self) != nil else {
                throw PluginError(CE_ERR_UNSUPPORTED, "condft needs the activations extension (a decoder model)")
            }
            // What to train: the host's adapter service, or every tensor.
            switch try host.string("params") {
            case "full":
                for i in 0..<host.paramCount { let p = try host.param(at: i); try host.train(p); me.trained.append(p) }
            case "lora":
                me.trained = try LowRankSettings.attach(host).params
            case let other: throw PluginError(CE_ERR_INVALID_ARGUMENT, "params \(other): use lora or full")
            }
            let ctx = host.context
            func generate(_ prompt: [Int32], _ n: Int, temperature: Double, seed: UInt64) throws -> [Int32] {
                var out = [Int32](repeating: 0, count: n), w: Int64 = 0
                try host.call(
                    host.raw.pointee.generate(ctx, prompt, Int64(prompt.count), Int64(n), temperature, seed, &out, &w),
                    "generate")
                return Array(out.prefix(Int(w)))
            }
            // Pseudo-paraphrases: generated text (sampled from the prompt's first token) + the prompt.
            let (np, plen) = (Int(try host.number("prefixes")), Int(try host.number("prefix_length")))
            for e in 0..<host.exampleCount {
                guard let p = host.exampleTokens(e, CE_TEXT_PREFIX), let s = host.exampleTokens(e, CE_TEXT_SUFFIX),
                    let first = p.first
                else { continue }
                for k in 0..<np {
                    let gen = try generate([first], plen, temperature: 1, seed: UInt64(e * 1000 + k + 1))
                    let ids = [first] + gen + p + s
                    me.augmented.append((ids, ids.count - s.count))
                }
            }
            // Locality: unrelated prompts and the unedited model's greedy continuation of each.
            let corpus = try host.string("locality_corpus")
            if !corpus.isEmpty {
                let keep = Int(try host.number("locality_tokens"))
                for doc in try host.corpus(corpus).prefix(Int(try host.number("locality_examples")))
                where doc.count >= 2 {
                    let prompt = Array(doc.prefix(24))
                    let cont = try generate(prompt, keep, temperature: 0, seed: 0)
                    guard !cont.isEmpty else { continue }
                    me.locality.append((prompt + cont, prompt.count))
                }
            }
            host.log(
                "condft: \(me.trained.count) tensors, \(me.augmented.count) paraphrases, "
                    + "\(me.locality.count) locality examples"
            )
        }
    },
    update: { inst, hostPtr, info in
        Instance.run(inst, hostPtr, as: CondFT.self) { me, host in
            let act = host.extensionTable(CE_EXT_ACTIVATIONS, as: ce_activations_ext.self)!.pointee
            let ctx = host.context
            // Add the conditional likelihood of a few paraphrases and locality examples to the
            // canonical example's gradient the host computed, then step.
            func add(_ ex: (ids: [Int32], firstTarget: Int), weight: Double) throws {
                let rows = (ex.firstTarget - 1)..<(ex.ids.count - 1)
                let w = [Float](repeating: Float(weight / Double(rows.count)), count: rows.count)
                var loss = 0.0
                try host.call(
                    act.sequence_loss(
                        ctx, ex.ids, Int64(ex.ids.count), rows.map { Int64($0) }, rows.map { ex.ids[$0 + 1] }, w,
                        Int64(rows.count), 1, &loss), "sequence_loss")
            }
            for _ in 0..<(me.augmented.isEmpty ? 0 : me.perUpdate) {
                try add(me.augmented[Int(host.raw.pointee.random_u64(ctx) % UInt64(me.augmented.count))], weight: 1)
            }
            for _ in 0..<(me.locality.isEmpty ? 0 : me.localityPerUpdate) {
                try add(
                    me.locality[Int(host.raw.pointee.random_u64(ctx) % UInt64(me.locality.count))],
                    weight: me.localityWeight)
            }
            try me.adam.step(host, me.trained, info: info)
        }
    },
    destroy: { Instance.release($0, as: CondFT.self) },
    describe: { raw in
        Outline.run(raw) { o in
            if try o.string("params") == "full" { try o.willTrain(".*") } else { try LowRankSettings.describe(o) }
            // One generated prefix + example at a time for the conditional likelihood.
            try o.willRun(
                rows: 1, tokens: Int(try o.number("prefix_length")) + o.longestExample,
                lowestLayer: Int(try o.modelInfo().layer_count))
            try o.mayChange(".*")
        }
    },
    learningRateSweep: tenTo(-6.5)...tenTo(-2))  // LoRA's range

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
