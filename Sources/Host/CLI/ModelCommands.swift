import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Token ids and the top-K next tokens at the last position of a text.",
        discussion: examples("canonedit logits --text \"The capital of France is\" --top 5"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "The text.") var text: String
    @Option(help: "How many next tokens to list.") var top = 5
    @Option(help: "Write the full last-position logit vector here as raw little-endian float32.") var out: String?

    struct Next: Encodable { let id: Int32; let token: String; let logprob: Double; let logit: Float }
    struct Result: Encodable { let ids: [Int32]; let top: [Next]; let vocab_size: Int }

    func validate() throws {
        try require(top >= 1, "--top must be at least 1, not \(top)")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            try e.apply(to: lm)
            let ids = lm.tokenizer.startOfText(text)
            guard !ids.isEmpty else { throw CanonEditError("--text gives no tokens") }
            let logits = try Scoring.lastLogits(lm.model, ids: ids)
            if let out {
                let data = logits.withUnsafeBufferPointer { Data(buffer: $0) }
                try data.write(to: URL(fileURLWithPath: out), options: .atomic)
            }
            let top = Scoring.topK(logits, k: top).map {
                Next(id: $0.id, token: lm.tokenizer.decode([$0.id]), logprob: $0.logProb, logit: logits[Int($0.id)])
            }
            try printJSON(Result(ids: ids, top: top, vocab_size: logits.count))
        }
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Summed log-probability of a suffix given a prefix (tokenized separately and concatenated; the prefix "
            + "starts with BOS for models that expect one, such as Gemma 3, and with nothing for SmolLM2).",
        discussion: examples("canonedit score --prefix \"The capital of France is\" --suffix \" Paris\""))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "The conditioning text.") var prefix: String
    @Option(help: "The continuation to score (include its leading space).") var suffix: String

    struct Result: Encodable {
        let prefix_ids: [Int32]; let suffix_ids: [Int32]; let logprob: Double; let token_logprobs: [Float]
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            try e.apply(to: lm)
            let p = lm.tokenizer.startOfText(prefix), s = lm.tokenizer.encode(suffix)
            let r = try Scoring.suffixLogProb(lm.model, prefix: p, suffix: s)
            try printJSON(Result(prefix_ids: p, suffix_ids: s, logprob: r.sum, token_logprobs: r.perToken))
        }
    }
}

struct NLL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nll", abstract: "Per-token negative log-likelihood (nats) of a text file.",
        discussion: examples("canonedit nll --file README.md --model smollm2"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "A UTF-8 text file.") var file: String

    struct Result: Encodable { let tokens: Int; let scored: Int; let mean: Double; let sum: Double }

    func run() throws {
        try guarded {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CanonEditError("\(file): cannot read as UTF-8 text")
            }
            let lm = try m.load()
            try e.apply(to: lm)
            let ids = lm.tokenizer.startOfText(text)
            guard ids.count >= 2 else { throw CanonEditError("\(file): needs at least two tokens, has \(ids.count)") }
            let nll = try Scoring.tokenNLL(lm.model, ids: ids)
            let sum = nll.reduce(0.0) { $0 + Double($1) }
            try printJSON(Result(tokens: ids.count, scored: nll.count, mean: sum / Double(nll.count), sum: sum))
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt (greedy unless --temperature > 0).",
        discussion: examples("canonedit generate --prompt \"The capital of France is\" --max-tokens 8"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "The prompt.") var prompt: String
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.") var maxTokens = 32
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature = 0.0
    @Option(help: "Seed for sampling.") var seed: UInt64 = 0

    struct Result: Encodable { let prompt_ids: [Int32]; let ids: [Int32]; let text: String }

    func validate() throws {
        try require(maxTokens >= 0, "--max-tokens must be ≥ 0, not \(maxTokens)")
        try require(
            temperature.isFinite && temperature >= 0,
            "--temperature must be a number ≥ 0 (0 is greedy), not \(temperature)")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            try e.apply(to: lm)
            let p = lm.tokenizer.startOfText(prompt)
            guard !p.isEmpty else { throw CanonEditError("--prompt gives no tokens") }
            let out = try Scoring.generate(
                lm.model, prompt: p, maxTokens: maxTokens, temperature: temperature, seed: seed)
            try printJSON(Result(prompt_ids: p, ids: out, text: lm.tokenizer.decode(out)))
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Forward and forward+backward throughput and peak memory (use a release build).",
        discussion: examples(
            "canonedit bench --batch 16 --seq 64 --threads 2",
            "canonedit bench --model big.gguf --batch 1 --seq 128 --train norms --reps 1   # a LoRA-sized step"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "Sequences per batch.") var batch = 16
    @Option(help: "Tokens per sequence.") var seq = 64
    @Option(help: "Timed repetitions (after one warm-up).") var reps = 3
    @Option(
        help: ArgumentHelp(
            "What forward+backward trains: all (every parameter, with its gradient, its values fp32 as "
                + "training holds them; the forward pass reads frozen weights as stored), or norms (only the 1-D "
                + "norm weights: the backward pass still crosses every block, as a LoRA step's does, but no "
                + "weight gradient is made for the matrices, which stay frozen)."))
    var train: Bench.Training = .all

    func validate() throws {
        try require(batch >= 1 && seq >= 2 && reps >= 1, "--batch ≥ 1, --seq ≥ 2 and --reps ≥ 1 are needed")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            try e.apply(to: lm)
            stderr("canonedit bench: \(lm.name), OpenBLAS core \(Blas.coreName), \(Blas.threads) threads")
            let r = try Bench.run(lm, B: batch, T: seq, reps: reps, train: train) { stderr("  " + $0) }
            try printJSON(r)
        }
    }
}

extension Bench.Training: ExpressibleByArgument {}
