import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct Ensemble: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Carry a Backpack's sense edit into a larger model: search β against the degradation ball and evaluate.",
        discussion: """
            CONFIG is the sense-finetuning experiment (its model is the Backpack; its evaluation data are used). \
            The edit defaults to the one that run saved for --ball. The large model must share the Backpack's token \
            ids. \
            Writes the result as JSON (stdout, and --out).
            """ + "\n\n"
                + examples(
                    "canonedit ensemble configs/builtin/companion-country_capital-senses.yaml --large smollm2 --ball "
                        + "1e-4"
                ))
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
    @Option(help: "Threads for matrix products and loops.") var threads: Int?

    func validate() throws {
        try requireBall(ball, "--ball")
        try requireThreads(threads)
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
        discussion: examples("canonedit senses show --model companions/smollm2 --token \" Rwanda\""),
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "For a word, each sense's highest- and lowest-scoring vocabulary words, before and after an edit.",
            discussion: examples(
                "canonedit senses show --model companions/smollm2 --token \" Rwanda\" --edit "
                    + "runs/x.edit-0.0001.safetensors",
                "canonedit senses show --model companions/smollm2 --token \" Rwanda\" --svg rwanda.svg --json")
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
