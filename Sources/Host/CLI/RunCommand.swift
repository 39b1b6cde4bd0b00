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
            file (resultsfile, default runs/<config>.results.json, where <config> is the config file's name). A \
            results file holding a finished run is not overwritten without --overwrite. Data paths in the config \
            are looked for beside the config, then in the working folder, then in the canonedit checkout (the \
            built-in data), or under --root DIR alone. Epoch 0 is the model as loaded, evaluated before \
            any method code runs; every ball is decided against it. After each epoch inside a ball, the edit that \
            ball certifies is written beside the results (<results>.edit-<ε>.safetensors; whole tensors, rows or \
            changed entries, whichever is smallest). An interrupted run resumes from the last finished epoch when \
            run again; a finished run deletes its checkpoint unless --keep-checkpoint. Prints a table of success \
            and general loss per degradation ball.

            With `sequential: {edits_per_step: k}` in the config, the canonical examples are edited k at a time, one \
            edit after another on the same model: each record is the model after one edit (the last one's efficacy \
            is the retention, the success on every edit made), and a checkpoint is written after each edit \
            (docs/configs.md).

            Before loading the model, a memory plan adds up what the run will hold (weights as held, trained \
            tensors and Adam state, activations of the largest training and evaluation passes, logits, caches) and \
            prints it; a run that would not fit in the memory available (or --memory-limit) is refused, naming the \
            largest items and what would make it fit. --recompute auto turns on activation recomputation when only \
            that makes the run fit.
            """ + "\n\n"
                + examples(
                    "canonedit run configs/builtin/smollm2-country_capital-lora.yaml",
                    "canonedit run my.yaml --plugin-path ./plugins --keep-checkpoint",
                    "canonedit run my.yaml --epochs 20    # extend a run kept with --keep-checkpoint",
                    "canonedit run my.yaml --json > results.json",
                    "canonedit run my.yaml --plan --memory-limit 12G    # the plan alone, nothing loaded"))
    @Argument(help: "Experiment config (YAML).") var config: String
    @Option(name: .customLong("plugin-path"), help: "Extra folder to search for plugins (repeatable).") var pluginPath:
        [String] = []
    @Flag(
        name: .customLong("skip-malformed"),
        help: "Skip malformed JSONL lines (reporting how many) instead of stopping.") var skipMalformed = false
    @Flag(name: .customLong("keep-checkpoint"), help: "Keep the checkpoint after the run finishes.")
    var keepCheckpoint = false
    @Flag(help: "Print the results file's JSON on stdout instead of the table.") var json = false
    @Flag(
        name: .customLong("log-samples"),
        help: "Keep every evaluation example's outcome; list, per ball, the examples the edit fixed and broke.")
    var logSamples = false
    @Option(
        help: "Epochs, instead of the config's num_epochs; a kept checkpoint of the same run is extended to this many.")
    var epochs: Int?
    @Option(help: "Threads for matrix products and loops (default: OPENBLAS_NUM_THREADS, else 2).") var threads: Int?
    @Option(
        name: .customLong("memory-limit"),
        help: "Memory the run may use, e.g. 12G or 800M (default: what the machine has available now).")
    var memoryLimit: MemorySize?
    @Option(
        help: ArgumentHelp(
            "Recompute block activations in backward instead of keeping them: auto (when only that makes the run "
                + "fit), on, off."))
    var recompute: MemoryPlan.Recompute = .auto
    @Flag(help: "Print the memory plan and stop, without loading the model.") var plan = false
    @Option(
        help: ArgumentHelp(
            "Folder the config's relative paths (inputs and outputs) are under, as in the authors' repository, whose "
                + "configs name paths from its top. Default: inputs are looked for beside the config, then in the "
                + "working folder, then in the canonedit checkout; outputs go under the working folder.",
            valueName: "DIR"))
    var root: String?
    @Flag(help: "Start over when the results file already holds a finished run (otherwise refused).")
    var overwrite = false

    func validate() throws {
        try requireFolders(pluginPath, "--plugin-path")
        try requireFolders(root.map { [$0] } ?? [], "--root")
        try requireThreads(threads)
    }

    func run() throws {
        try guarded {
            setBlasThreads(threads)
            Cancellation.install()
            var exp = try Experiment(configPath: config, epochs: epochs, root: root)
            exp.pluginPaths = pluginPath
            exp.overwrite = overwrite
            exp.version = VersionText.text
            exp.memoryLimit = memoryLimit?.bytes
            exp.recompute = recompute
            if plan {
                guard let p = try exp.plan() else {
                    throw CanonEditError("no memory plan for an ensemble or a Backpack")
                }
                print(p.render())
                return
            }
            exp.skipMalformed = skipMalformed
            exp.keepCheckpoint = keepCheckpoint
            exp.logSamples = logSamples
            exp.transient = ProgressPrinter.transient
            if let k = Blas.kernelChoice { stderr(k) }
            let started = Date()
            let outcome = try exp.run()
            if json {
                try printJSON(outcome.results)
            } else {
                print(ResultsTable.render(outcome, config: exp.config, seconds: Date().timeIntervalSince(started)))
            }
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
                + "examples, \(s.count - 1) epochs, \(Int(seconds)) s, peak memory "
                + String(format: "%.0f MiB", Double(Bench.peakResidentBytes()) / 1_048_576),
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

extension MemoryPlan.Recompute: ExpressibleByArgument {}

/// A size in bytes written as a number with an optional K, M, G or T suffix (powers of 1024).
struct MemorySize: ExpressibleByArgument {
    let bytes: Int
    init?(argument: String) {
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var text = argument.uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        if text.hasSuffix("I") { text.removeLast() }
        let unit = text.last.flatMap { units[$0] }
        if unit != nil { text.removeLast() }
        // Past 2^60 bytes is no machine's memory, and Int(·) would trap.
        guard let n = Double(text), n > 0, n.isFinite, n * (unit ?? 1) < 0x1p60 else { return nil }
        bytes = Int(n * (unit ?? 1))
    }
}
