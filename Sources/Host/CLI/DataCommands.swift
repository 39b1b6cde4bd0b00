import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Success rate of a model, unedited or with an edit, on an evaluation file in the authors' format.",
        discussion: """
            With --edit, the edit file a run wrote for a ball is applied first (refused when it was made for another \
            model); on the run's own evaluation data this reproduces the success the run certified.
            """ + "\n\n"
                + examples(
                    "canonedit eval --task country_capital --data "
                        + "data/builtin/country_capital/country_capital_eval.jsonl",
                    "canonedit eval --task country_capital --data eval.jsonl --edit runs/x.edit-0.0001.safetensors"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "Task: \(TaskKind.all.map(\.name).joined(separator: ", ")).") var task: String
    @Option(help: "Evaluation JSONL ({prefix, suffix} or {prefix, suffix1, suffix2}).") var data: String
    @Option(help: "Override the task's threshold τ.") var threshold: Double?
    @Option(name: .customLong("log-samples"), help: "Write every example's outcome here (JSONL, docs/results.md).")
    var logSamples: String?

    struct Result: Encodable { let task: String; let examples: Int; let success_rate: Double; let threshold: Double }

    func validate() throws {
        try require(threshold.map(\.isFinite) ?? true, "--threshold must be a finite number")
    }

    func run() throws {
        try guarded {
            let kind = try TaskKind.named(task)
            let (examples, _) = try JSONL.examples(data, pair: kind.loss.isPair)
            guard !examples.isEmpty else { throw CanonEditError("\(data): no records") }
            let lm = try m.load()
            try e.apply(to: lm)
            let set = InterventionSet(
                examples, tokenizer: lm.tokenizer, lossType: kind.loss, threshold: threshold ?? kind.threshold)
            let (s1, s2) = try set.sums(lm.model)
            if let logSamples {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let lines = try set.samples(s1: s1, s2: s2).map { String(decoding: try enc.encode($0), as: UTF8.self) }
                try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: logSamples)
            }
            try printJSON(
                Result(
                    task: task, examples: examples.count, success_rate: set.successRate(s1: s1, s2: s2),
                    threshold: threshold ?? kind.threshold))
        }
    }
}

struct GeneralLoss: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "general-loss",
        abstract: "Per-token loss (token micro-average NLL) on a {\"text\": …} JSONL corpus.",
        discussion: examples("canonedit general-loss --data data/builtin/general.jsonl"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "JSONL with a text field per line.") var data: String

    struct Result: Encodable { let documents: Int; let tokens: Int; let loss: Double }

    func run() throws {
        try guarded {
            let (texts, _) = try JSONL.texts(data)
            guard !texts.isEmpty else { throw CanonEditError("\(data): no records") }
            let lm = try m.load()
            try e.apply(to: lm)
            let set = TextSet(texts, tokenizer: lm.tokenizer)
            try printJSON(Result(documents: texts.count, tokens: set.tokenCount, loss: try set.meanNLL(lm.model)))
        }
    }
}

struct Corpus: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a general-text corpus ({\"text\": …} JSONL) from a model with a fixed seed.",
        discussion: examples("canonedit corpus --documents 48 --tokens 128 --seed 1 --out general.jsonl"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "Documents to sample.") var documents = 48
    @Option(help: "Tokens per document.") var tokens = 128
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Output JSONL file.") var out: String

    func validate() throws {
        try require(documents >= 1 && tokens >= 1, "--documents and --tokens must be at least 1")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            try e.apply(to: lm)
            let texts = try CorpusSampler.sample(
                lm, documents: documents, tokens: tokens, seed: seed, progress: ProgressPrinter.transient)
            try CorpusSampler.write(texts, to: out)
        }
    }
}
