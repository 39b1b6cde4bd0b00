import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct CompanionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "companion",
        abstract: "Companion Backpacks: a Backpack distilled from a base model, for sense finetuning and the ensemble.",
        discussion: examples("canonedit companion train --out companions/smollm2 --documents 896 --epochs 7"),
        subcommands: [Train.self, Check.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Sample text from --model, then distil a companion Backpack from it (resumable, deterministic in the "
                + "seeds).",
            discussion: """
                The companion reads the base model's residual stream entering block --prefix-layers (frozen), computes \
                --senses contextualization weights with query/key width --width, has a sense MLP (C → --hidden → \
                senses·C) on \
                the base's input embeddings and predicts through the base's output embedding. It is trained with \
                AdamW on \
                KL(base ‖ companion) over every position of text the base sampled itself at temperature 1. The \
                teacher's \
                distribution is recomputed from its final hidden states, so the samples keep C numbers per position, \
                not V. \
                Sampled shards and a checkpoint per epoch are kept in --out, so running the same command again \
                resumes. \
                Writes --out/config.json and --out/model.safetensors (fp16) and --out/training.json; load the folder \
                with --model.
                """ + "\n\n" + examples("canonedit companion train --out companions/smollm2 --documents 896 --epochs 7")
        )
        @OptionGroup var m: ModelOptions
        @Option(help: "Output folder (the companion model).") var out: String
        @Option(help: "Documents to sample (including the held-out ones).") var documents = 512
        @Option(help: "Tokens per document (the first is the <|endoftext|> prompt).") var tokens = 128
        @Option(help: "Documents held out for the KL figure.") var heldOut = 16
        @Option(help: "Sampling seed.") var sampleSeed: UInt64 = 1
        @Option(help: "Base blocks the companion reads (the residual stream entering this block).") var prefixLayers = 8
        @Option(help: "Senses per word.") var senses = 16
        @Option(help: "Query/key width per sense.") var width = 32
        @Option(help: "Hidden width of the sense MLP.") var hidden = 1024
        @Option(help: "Epochs over the training documents.") var epochs = 8
        @Option(help: "Documents per step.") var batch = 8
        @Option(help: "Peak learning rate.") var lr = 4e-4
        @Option(help: "Warmup steps.") var warmup = 20
        @Option(help: "Gradient-norm clip.") var clip = 1.0
        @Option(help: "AdamW weight decay (matrices only).") var weightDecay = 0.01
        @Option(help: "Initialisation and shuffling seed.") var seed: UInt64 = 0

        func run() throws {
            try guarded {
                let began = Date()
                let lm = try m.load()
                guard let base = lm.model as? DecoderLM else {
                    throw CanonEditError("\(m.model) is not a decoder model")
                }
                Cancellation.install()
                let samples = try DistillationSamples.prepare(
                    base: lm, layers: prefixLayers, documents: documents, T: tokens, seed: sampleSeed,
                    folder: out + "/samples"
                ) { stderr($0) }
                let baseName =
                    ModelStore.builtIn[m.model.lowercased()] != nil
                    ? m.model : URL(fileURLWithPath: m.model).standardizedFileURL.path
                var config = CompanionConfig(base_model: baseName, base_identity: ModelIdentity.of(base))
                config.prefix_layers = prefixLayers
                config.num_senses = senses
                config.weight_width = width
                config.sense_hidden = hidden
                let companion = try Companion.initialize(base: base, config: config, seed: seed)
                var settings = CompanionTrainingSettings()
                settings.epochs = epochs; settings.batch = batch; settings.learningRate = lr;
                settings.warmupSteps = warmup
                settings.clip = clip; settings.weightDecay = weightDecay; settings.seed = seed;
                settings.heldOut = heldOut
                let trainer = try CompanionTrainer(
                    companion: companion, base: base, samples: samples, settings: settings, folder: out)
                let history = try trainer.train(progress: { stderr($0) }, cancelled: { Cancellation.isRequested })
                // The held-out documents again, with the base model run live rather than from the samples.
                let held = (samples.documents - heldOut..<samples.documents).map { d in
                    Array(samples.tokens[(d * tokens)..<((d + 1) * tokens)])
                }
                let live = try CompanionCheck.run(companion: companion, base: base, documents: held)
                let trainTokens = (samples.documents - heldOut) * tokens
                let trainSeconds = history.last?.seconds ?? 0
                let report = CompanionReport(
                    sampled_tokens: samples.documents * tokens, train_tokens: trainTokens,
                    held_out_tokens: heldOut * tokens,
                    sampling_minutes: samples.seconds / 60, training_minutes: trainSeconds / 60,
                    total_minutes: (samples.seconds + trainSeconds) / 60,
                    sampling_tokens_per_second: Double(samples.documents * tokens) / max(samples.seconds, 1e-9),
                    training_tokens_per_second: Double(trainTokens * history.count) / max(trainSeconds, 1e-9),
                    parameters: companion.parameterCount, settings: settings, epochs: history, held_out_live: live,
                    wall_minutes_this_run: Date().timeIntervalSince(began) / 60)
                config.recipe = [
                    "command": "canonedit companion train " + CommandLine.arguments.dropFirst(3).joined(separator: " "),
                    "held_out_kl": String(format: "%.4f", live.kl),
                    "sampled_tokens": String(samples.documents * tokens),
                    "total_minutes": String(format: "%.1f", report.total_minutes),
                ]
                try Companion.save(companion, config: config, to: out)
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try AtomicFile.write(try enc.encode(report), to: out + "/training.json")
                stderr(
                    String(
                        format:
                            "companion: held-out KL %.4f nats/token (companion NLL %.3f, base NLL %.3f); %d tokens "
                            + "sampled; %.1f min of compute (%.1f sampling + %.1f training)",
                        live.kl, live.companion_nll, live.base_nll, samples.documents * tokens, report.total_minutes,
                        report.sampling_minutes, report.training_minutes))
                try printJSON(report)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "KL(base ‖ companion) and both NLLs on fresh text sampled from the base (a seed the training "
                + "did not ",
            discussion: examples("canonedit companion check --companion companions/smollm2")
                + "use)."
        )
        @Option(help: "The companion folder.") var companion: String
        @Option(help: "Documents to sample.") var documents = 16
        @Option(help: "Tokens per document.") var tokens = 128
        @Option(help: "Sampling seed.") var seed: UInt64 = 424242
        @Option(help: "Threads for matrix products and loops.") var threads: Int?

        func validate() throws { try requireThreads(threads) }

        func run() throws {
            try guarded {
                setBlasThreads(threads)
                let lm = try ModelLoader.load(companion)
                guard let bp = lm.model as? BackpackLM, let base = bp.base else {
                    throw CanonEditError("\(companion) is not a companion Backpack")
                }
                let start = lm.tokenizer.encode("<|endoftext|>")
                let gen = try Scoring.generateBatch(
                    base, prompts: Array(repeating: start, count: documents), maxTokens: tokens - 1,
                    temperature: 1, seed: seed)
                try printJSON(try CompanionCheck.run(companion: bp, base: base, documents: gen.map { start + $0 }))
            }
        }
    }
}

struct CompanionReport: Codable {
    var sampled_tokens: Int
    var train_tokens: Int
    var held_out_tokens: Int
    var sampling_minutes: Double
    var training_minutes: Double
    var total_minutes: Double
    var sampling_tokens_per_second: Double
    var training_tokens_per_second: Double
    var parameters: Int
    var settings: CompanionTrainingSettings
    var epochs: [CompanionEpoch]
    var held_out_live: CompanionCheck.Figures
    var wall_minutes_this_run: Double
}
