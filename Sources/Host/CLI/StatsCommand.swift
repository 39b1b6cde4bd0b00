import ArgumentParser
import Engine
import Foundation
import Setting
import Support

/// `canonedit stats`: the key statistics MEMIT, ROME and AlphaEdit ask the host for, computed
/// once per (model, module, corpus, token count) and cached with that provenance.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Compute, list and verify the cached key statistics (second moments of MLP keys).",
        discussion: """
            The statistics live in $CANONEDIT_CACHE/moments (default cache/moments in the working folder), \
            one safetensors file per model, module, corpus and token count, with the model's fingerprint and \
            SHA-256, the corpus's SHA-256, the token count and dtype in its metadata. A method asking for \
            statistics whose provenance differs gets them recomputed; a file failing its checksum is refused.
            """ + "\n\n"
            + examples(
                "canonedit stats compute --corpus data/builtin/regularization.jsonl --layers 3-9",
                "canonedit stats list", "canonedit stats verify"),
        subcommands: [Compute.self, List.self, Verify.self])

    struct Compute: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compute (or find cached) the second moments of MLP output projections' inputs.",
            discussion: examples(
                "canonedit stats compute --model smollm2 --corpus data/builtin/regularization.jsonl --layers 3-9 "
                    + "--tokens 100000"))
        @OptionGroup var model: ModelOptions
        @Option(help: "{\"text\"} JSONL corpus.") var corpus: String
        @Option(help: "Tokens of the corpus to use.") var tokens = 100_000
        @Option(help: "MLP output projections of these layers, e.g. 3-9 or 3,5.") var layers: String?
        @Option(help: "A linear module by name (repeatable).") var module: [String] = []

        func validate() throws {
            guard tokens > 0 else { throw ValidationError("--tokens must be positive") }
            guard layers != nil || !module.isEmpty else { throw ValidationError("give --layers or --module") }
        }

        func run() throws {
            try guarded {
                let loaded = try model.load()
                let m = loaded.model
                var names = module
                if let layers {
                    for l in try layerList(layers, count: m.layerCount) {
                        guard let lin = (m as? DecoderLM)?.mlpOutput(layer: l) else {
                            throw CanonEditError("--layers: no MLP output projection in layer \(l)")
                        }
                        names.append(lin.name)
                    }
                }
                for n in names where !m.linears.contains(where: { $0.name == n }) {
                    throw CanonEditError("--module: no linear layer named \(n)")
                }
                guard FileManager.default.fileExists(atPath: corpus) else {
                    throw CanonEditError("--corpus: \(corpus) does not exist")
                }
                let docs = try JSONL.texts(corpus).texts.map { loaded.tokenizer.startOfText($0) }
                let corpusID = SHA256Digest.hex(of: try Data(contentsOf: URL(fileURLWithPath: corpus)))
                let sha = try ModelDigest.cachedSHA256(loaded.path)
                for n in names {
                    _ = try SecondMoment.compute(
                        model: m, module: n, docs: docs, corpusID: corpusID, tokens: tokens, modelSHA256: sha,
                        progress: ProgressPrinter.transient)
                    ProgressPrinter.line("statistics of \(n): done")
                }
                // Only the statistics just computed or found are read back and checked.
                try printJSON(
                    SecondMomentCache.entries(verify: false).filter {
                        names.contains($0.module ?? "") && $0.corpus_sha256 == corpusID && $0.tokens == tokens
                            && $0.model_sha256 == sha
                    }.map { SecondMomentCache.entry($0.path, verify: true) })
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The cached statistics with their provenance (JSON).",
            discussion: examples("canonedit stats list", "CANONEDIT_CACHE=/scratch/cache canonedit stats list"))
        func run() throws { try printJSON(SecondMomentCache.entries(verify: false)) }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every cached statistic and check it against its checksum; exit 1 if one fails.",
            discussion: examples("canonedit stats verify"))
        func run() throws {
            let entries = SecondMomentCache.entries(verify: true)
            try printJSON(entries)
            let bad = entries.filter { $0.intact != true }
            for e in bad { stderr("\(e.path): \(e.problem ?? "failed")") }
            if !bad.isEmpty { throw ExitCode(1) }
        }
    }
}

/// Layers from "3-9" or "3,5,7", each inside 0..<count.
func layerList(_ text: String, count: Int) throws -> [Int] {
    var out: [Int] = []
    for part in text.split(separator: ",") {
        let ends = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(ends.count), let a = ends.first, let b = ends.last, a <= b, a >= 0, b < count else {
            throw CanonEditError("--layers \"\(text)\": write ranges like 3-9 or lists like 3,5 within 0..<\(count)")
        }
        out += Array(a...b)
    }
    return Array(Set(out)).sorted()
}
