import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one editing experiment from a YAML config (the authors' schema) and write its results.",
        discussion: """
            Writes the epoch log (logfile, default runs/<config>.log.jsonl), a checkpoint beside it, and the results \
            file (resultsfile, default runs/<config>.results.json). Epoch 0 is the model as loaded, evaluated before \
            any method code runs; every ball is decided against it. After each epoch inside a ball, the edit that \
            ball certifies is written beside the results (<results>.edit-<ε>.safetensors; whole tensors, rows or \
            changed entries, whichever is smallest). An interrupted run resumes from the last finished epoch when \
            run again; a finished run deletes its checkpoint unless --keep-checkpoint. Prints a table of success \
            and general loss per degradation ball.
            """)
    @Argument(help: "Experiment config (YAML).") var config: String
    @Option(name: .customLong("plugin-path"), help: "Extra folder to search for plugins (repeatable).") var pluginPath:
        [String] = []
    @Flag(
        name: .customLong("skip-malformed"),
        help: "Skip malformed JSONL lines (reporting how many) instead of stopping.") var skipMalformed = false
    @Flag(name: .customLong("keep-checkpoint"), help: "Keep the checkpoint after the run finishes.")
    var keepCheckpoint = false
    @Option(
        help: "Epochs, instead of the config's num_epochs; a kept checkpoint of the same run is extended to this many.")
    var epochs: Int?
    @Option(help: "OpenBLAS threads (default: OPENBLAS_NUM_THREADS, else 2).") var threads: Int?

    func validate() throws {
        try requireFolders(pluginPath, "--plugin-path")
    }

    func run() throws {
        try guarded {
            setBlasThreads(threads)
            Cancellation.install()
            var exp = try Experiment(configPath: config, epochs: epochs)
            exp.pluginPaths = pluginPath
            exp.skipMalformed = skipMalformed
            exp.keepCheckpoint = keepCheckpoint
            let started = Date()
            let outcome = try exp.run()
            print(ResultsTable.render(outcome, config: exp.config, seconds: Date().timeIntervalSince(started)))
            stderr("results: \(exp.resultsPath)\nepoch log: \(exp.logPath)")
            if outcome.error != nil { throw ExitCode(2) }
        }
    }
}

/// The short table `run` prints: success and losses at epoch 0 and in each ball.
enum ResultsTable {
    static func render(_ o: Experiment.Outcome, config c: ExperimentConfig, seconds: Double) -> String {
        let s = o.stats
        let g0 = s[0].general
        var lines = [
            "\(c.training.finetune_type) on \(c.model): \(o.trainCount) canonical examples, \(o.evalCount) evaluation "
                + "examples, \(s.count - 1) epochs, \(Int(seconds)) s",
            pad("", 22) + pad("epoch", 7) + pad("success", 10) + pad("general", 10) + pad("Δ general", 11)
                + "hard neg. Δ",
        ]
        func line(_ label: String, _ epoch: Int, _ f: EpochFigures) -> String {
            let dg = (f.general / g0 - 1) * 100
            let hn = f.hard_negative.map { String(format: "%+.4f", $0 - s[0].hard_negative!) } ?? "—"
            return pad(label, 22) + pad("\(epoch)", 7) + pad(String(format: "%.3f", f.success), 10)
                + pad(String(format: "%.5f", f.general), 10) + pad(String(format: "%+.4f%%", dg), 11) + hn
        }
        func row(_ label: String, _ i: Int) -> String { line(label, i, s[i]) }
        lines.append(row("unedited", 0))
        if let a = o.afterPrepare { lines.append(line("after prepare", 0, a)) }
        for ball in Ball.paper {
            lines.append(row("ball ε=\(ball.label)", ball.lastEpochInside(s.map(\.general))))
        }
        lines.append(row("last epoch", s.count - 1))
        if let e = o.error { lines.append("stopped early: \(e)") }
        return lines.joined(separator: "\n")
    }
    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Success rate of a model, unedited or with an edit, on an evaluation file in the authors' format.",
        discussion: """
            With --edit, the edit file a run wrote for a ball is applied first (refused when it was made for another \
            model); on the run's own evaluation data this reproduces the success the run certified.
            """)
    @OptionGroup var m: ModelOptions
    @Option(help: "An edit file to apply first (a run's <results>.edit-<ε>.safetensors).") var edit: String?
    @Flag(name: .customLong("trust-edit"), help: "Apply an edit that changes tensors its method does not change.")
    var trustEdit = false
    @Option(help: "Task: \(TaskKind.all.map(\.name).joined(separator: ", ")).") var task: String
    @Option(help: "Evaluation JSONL ({prefix, suffix} or {prefix, suffix1, suffix2}).") var data: String
    @Option(help: "Override the task's threshold τ.") var threshold: Double?

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
            if let edit {
                let session = EditSession(
                    model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: kind.loss, seed: 0)
                let info = try EditArtifact.apply(edit, to: session, trust: trustEdit)
                stderr(
                    "edit \(edit): \(info.method), certified in ball \(info.ball ?? "?") at epoch \(info.epoch ?? -1)")
            }
            let set = InterventionSet(
                examples, tokenizer: lm.tokenizer, lossType: kind.loss, threshold: threshold ?? kind.threshold)
            let failure = try set.failureRate(lm.model)
            try printJSON(
                Result(
                    task: task, examples: examples.count, success_rate: 1 - failure,
                    threshold: threshold ?? kind.threshold))
        }
    }
}

struct GeneralLoss: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "general-loss",
        abstract: "Per-token loss (token micro-average NLL) on a {\"text\": …} JSONL corpus.")
    @OptionGroup var m: ModelOptions
    @Option(help: "JSONL with a text field per line.") var data: String

    struct Result: Encodable { let documents: Int; let tokens: Int; let loss: Double }

    func run() throws {
        try guarded {
            let (texts, _) = try JSONL.texts(data)
            guard !texts.isEmpty else { throw CanonEditError("\(data): no records") }
            let lm = try m.load()
            let set = TextSet(texts, tokenizer: lm.tokenizer)
            try printJSON(Result(documents: texts.count, tokens: set.tokenCount, loss: try set.meanNLL(lm.model)))
        }
    }
}

struct Corpus: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a general-text corpus ({\"text\": …} JSONL) from a model with a fixed seed.")
    @OptionGroup var m: ModelOptions
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
            let texts = try CorpusSampler.sample(lm, documents: documents, tokens: tokens, seed: seed) { stderr($0) }
            try CorpusSampler.write(texts, to: out)
        }
    }
}

struct Ensemble: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Carry a Backpack's sense edit into a larger model: search β against the degradation ball and evaluate.",
        discussion: """
            CONFIG is the sense-finetuning experiment (its model is the Backpack; its evaluation data are used). \
            The edit defaults to the one that run saved for --ball. The large model must share the Backpack's token \
            ids. \
            Writes the result as JSON (stdout, and --out).
            """)
    @Argument(help: "The sense-finetuning experiment config.") var config: String
    @Option(help: "The large model (built-in name, GGUF file or folder).") var large: String
    @Option(help: "The saved edit (default: the run's edit for --ball).") var edit: String?
    @Flag(name: .customLong("trust-edit"), help: "Apply an edit that changes tensors its method does not change.")
    var trustEdit = false
    @Option(help: "Degradation ball ε.") var ball = 1e-4
    @Option(help: "Also write the result here.") var out: String?
    @Option(
        help: "Control facts (the eval format, prefix/suffix JSONL) the edit should not move: scored before and after.")
    var controls: String?
    @Option(help: "OpenBLAS threads.") var threads: Int?

    func validate() throws {
        try requireBall(ball, "--ball")
    }

    func run() throws {
        try guarded {
            setBlasThreads(threads)
            let exp = try Experiment(configPath: config)
            let bpLoaded = try ModelLoader.load(try ModelStore.resolveConfigModel(exp.config.model))
            guard let bp = bpLoaded.model as? BackpackLM else {
                throw CanonEditError("\(config): model \(exp.config.model) is not a Backpack")
            }
            let largeLM = try ModelLoader.load(large)
            let editPath = edit ?? RunRecorder.editPath(resultsPath: exp.resultsPath, ball: Ball(ball))
            let session = EditSession(
                model: bp, tokenizer: bpLoaded.tokenizer, examples: [], lossType: exp.config.training.loss_type, seed: 0
            )
            let info = try EditArtifact.apply(editPath, to: session, trust: trustEdit)
            stderr(
                "edit \(editPath): \(info.method), \(info.senses.count) senses, certified in ball \(info.ball ?? "?") "
                    + "at epoch \(info.epoch ?? -1)"
            )
            let ens = try EnsembleLM(large: largeLM.model, backpack: bp, beta: 1)
            let evaluator = try exp.evaluator(tokenizer: largeLM.tokenizer)
            let lossType = exp.config.training.loss_type
            let controlSet = try controls.map {
                InterventionSet(
                    try JSONL.examples($0, pair: lossType.isPair).examples, tokenizer: largeLM.tokenizer,
                    lossType: lossType,
                    threshold: evaluator.intervention.threshold)
            }
            let result = try EnsembleSearch.run(ens, evaluator: evaluator, epsilon: ball, controls: controlSet) {
                stderr($0)
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = try enc.encode(result)
            if let out { try AtomicFile.write(data, to: out) }
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

struct SensesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "senses", abstract: "Look at a Backpack's sense vectors.",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For a word, each sense's highest- and lowest-scoring vocabulary words, before and after an edit."
        )
        @OptionGroup var m: ModelOptions
        @Option(help: "The word (its first token is shown).") var token: String
        @Option(help: "A saved sense edit to show the senses after.") var edit: String?
        @Flag(name: .customLong("trust-edit"), help: "Apply an edit that changes tensors its method does not change.")
        var trustEdit = false
        @Option(help: "Words per list.") var top = 5
        @Option(help: "Also write the view as an SVG image here.") var svg: String?
        @Flag(help: "JSON instead of text.") var json = false

        func validate() throws {
            try require(top >= 1, "--top must be at least 1, not \(top)")
        }

        func run() throws {
            try guarded {
                let lm = try m.load()
                guard let bp = lm.model as? BackpackLM else { throw CanonEditError("\(m.model) is not a Backpack") }
                let ids = lm.tokenizer.encode(token)
                guard let id = ids.first else { throw CanonEditError("--token gives no tokens") }
                if ids.count > 1 {
                    stderr(
                        "\(token.debugDescription) is \(ids.count) tokens; showing the first, "
                            + "\(lm.tokenizer.decode([id]).debugDescription)"
                    )
                }
                var view = SenseView(
                    token: lm.tokenizer.decode([id]), id: id,
                    before: try SenseView.of(bp, tokenizer: lm.tokenizer, id: id, count: top), after: nil)
                if let edit {
                    let s = EditSession(model: bp, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
                    let info = try EditArtifact.apply(edit, to: s, trust: trustEdit)
                    let edited = Set(info.senses.filter { $0[0] == Int(id) }.map { $0[1] })
                    view.after = try SenseView.of(bp, tokenizer: lm.tokenizer, id: id, count: top, edited: edited)
                }
                if let svg { try AtomicFile.write(Data(view.svg.utf8), to: svg) }
                if json { try printJSON(view) } else { print(view.text) }
            }
        }
    }
}
