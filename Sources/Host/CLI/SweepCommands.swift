import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract:
            "Random hyperparameter search: write one config per run and run them (locally or as a Slurm job array).",
        discussion: """
            SPEC is YAML: name, base_configs (one per task × method), runs (configs drawn per base config), seed, \
            epochs \
            (optional override), output (default sweeps/<name>), learning_rate ({method: [low, high]} exponents of 10; \
            default the paper's ranges). Plugin hyperparameters are drawn from each plugin's schema. Each run is a \
            child \
            process; finished runs are skipped, so rerunning a killed sweep continues it. With --test, runs the test \
            reruns written by `canonedit select` instead.
            """ + "\n\n"
                + examples(
                    "canonedit sweep configs/sweeps/builtin-small.yaml --workers 2",
                    "canonedit sweep configs/sweeps/builtin-small.yaml --slurm --slurm-cpus 4 --slurm-mem 16G"))
    @Argument(help: "Sweep spec (YAML).") var spec: String
    @Option(help: "Runs at once (each with one OpenBLAS thread).") var workers = 2
    @Flag(help: "Run the test reruns written by `canonedit select`.") var test = false
    @Flag(help: "Write a Slurm job array and submit it with sbatch instead of running locally.") var slurm = false
    @Flag(name: .customLong("slurm-wait"), help: "With --slurm: wait for the array to finish (sbatch --wait).")
    var slurmWait = false
    @Option(name: .customLong("slurm-cpus"), help: "CPUs per array task.") var cpus = 2
    @Option(name: .customLong("slurm-mem"), help: "Memory per array task.") var mem = "8G"
    @Option(name: .customLong("slurm-time"), help: "Time limit per array task.") var time = "02:00:00"
    @Option(name: .customLong("slurm-partition"), help: "Partition.") var partition: String?
    @Option(name: .customLong("plugin-path"), help: "Extra plugin folder (repeatable).") var pluginPath: [String] = []

    func validate() throws {
        try require(workers >= 1, "--workers must be at least 1, not \(workers)")
        try requireFolders(pluginPath, "--plugin-path")
    }

    func run() throws {
        try guarded {
            Cancellation.install()
            let s = try SweepSpec.load(spec)
            var runs: [SweepPlanner.Run]
            if test {
                guard let data = FileManager.default.contents(atPath: s.folder + "/test/plan.json") else {
                    throw CanonEditError("\(s.folder)/test/plan.json: run canonedit select first")
                }
                runs = try JSONDecoder().decode([SweepPlanner.Run].self, from: data)
            } else {
                runs = try SweepPlanner.plan(s, pluginPaths: pluginPath)
            }
            if slurm {
                var r = SlurmArray.Resources()
                r.cpus = cpus; r.memory = mem; r.time = time; r.partition = partition
                let folder = test ? s.folder + "/test" : s.folder
                let job = try SlurmArray.write(
                    runs: runs, executable: HostPaths.executable, folder: folder, name: s.name, resources: r)
                guard job.tasks > 0 else {
                    stderr("every run is finished"); return
                }
                let id = try SlurmArray.submit(job, wait: slurmWait)
                stderr("submitted job array \(id) (\(job.script))")
                let done = runs.filter(SweepRunner.finished).count
                let failed = runs.filter { SweepRunner.error(of: $0) != nil }.count
                print("{\"job\": \"\(id)\", \"runs\": \(runs.count), \"finished\": \(done), \"failed\": \(failed)}")
                return
            }
            let runner = SweepRunner(
                runs: runs, executable: HostPaths.executable, workers: workers,
                extraArguments: pluginPath.flatMap { ["--plugin-path", $0] })
            runner.progress = { stderr($0) }
            let summary = try runner.run()
            try printJSON(summary)
            if !summary.failed.isEmpty { throw ExitCode(2) }
        }
    }
}

struct Select: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pick the best validation config per task × method × ball and write its test reruns with seeds.",
        discussion: examples("canonedit select configs/sweeps/builtin-small.yaml --ball 1e-4 --seeds 2"))
    @Argument(help: "Sweep spec (YAML) whose results to read.") var spec: String
    @Option(
        help:
            "success (highest validation success, the authors' Backpack rule) or improvement (their Pythia/GPT-J rule)."
    ) var rule = "success"
    @Option(help: "Test reruns per choice.") var seeds = 3
    @Option(help: "Split rename for test configs, FROM:TO.") var replace = "-val:-test"
    @Option(help: "Balls to select for (repeatable; default all three).") var ball: [Double] = []

    func validate() throws {
        try require(seeds >= 1, "--seeds must be at least 1, not \(seeds)")
        for b in ball { try requireBall(b, "--ball") }
    }

    func run() throws {
        try guarded {
            let parts = replace.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CanonEditError("--replace needs FROM:TO") }
            guard let rule = SweepSelect.Rule(rawValue: rule) else {
                throw CanonEditError("--rule is \(rule); use success or improvement")
            }
            let s = try SweepSpec.load(spec)
            let choices = try SweepSelect.run(
                folder: s.folder, rule: rule, seeds: seeds, replace: (parts[0], parts[1]), testData: s.test_data ?? [:],
                balls: ball.isEmpty ? Ball.paper : ball.map(Ball.init))
            try printJSON(choices)
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Tables (Markdown, CSV, LaTeX, JSON) and figures (SVG, PDF, PNG) of a sweep's test reruns, in the paper's "
            + "shape; single runs side by side (results files or run folders); or, with --samples, the examples an "
            + "edit fixed and broke.",
        discussion: examples(
            "canonedit report configs/sweeps/builtin-small.yaml",
            "canonedit report runs/a.results.json runs/b.results.json    # single runs, one row each",
            "canonedit report runs/    # every *.results.json in the folder",
            "canonedit report --samples runs/x.log.jsonl.samples/epoch-0.jsonl --samples runs/x.samples-0.0001.jsonl"))
    @Argument(help: "A sweep spec (YAML), or results files and run folders.") var inputs: [String] = []
    @Flag(help: "Print the report as JSON (report/report.json) instead of Markdown.") var json = false
    @Option(help: "Two sample files (run --log-samples): list the evaluation examples fixed and broken between them.")
    var samples: [String] = []

    func validate() throws {
        try require(
            samples.isEmpty ? !inputs.isEmpty : samples.count == 2 && inputs.isEmpty,
            "give a sweep spec, results files or run folders, or --samples BEFORE --samples AFTER")
    }

    func run() throws {
        try guarded {
            if samples.count == 2 { return try listChanges() }
            guard inputs.count == 1, inputs[0].hasSuffix(".yaml") || inputs[0].hasSuffix(".yml") else {
                let rows = try RunsTable.rows(try RunsTable.files(inputs))
                if json { try printJSON(RunsTable.Document(rows: rows)) } else { print(RunsTable.markdown(rows)) }
                return
            }
            let folder = try SweepSpec.load(inputs[0]).folder
            let rows = try SweepReport.rows(folder: folder)
            let names = Dictionary(
                PluginRegistry.discover().plugins.map { ($0.id, $0.displayName) }, uniquingKeysWith: { a, _ in a })
            let files = try SweepReport.write(rows, folder: folder, names: names) { stderr("note: " + $0) }
            if json {
                try printJSON(SweepReport.Document(rows: rows))
            } else {
                print(try String(contentsOfFile: folder + "/report/report.md", encoding: .utf8))
            }
            stderr("wrote " + files.joined(separator: ", "))
        }
    }

    /// The evaluation examples that fail in the first sample file and succeed in the second, and
    /// the reverse.
    func listChanges() throws {
        let (fixed, broke) = SampleLog.changes(
            before: try RunRecorder.readSamples(samples[0]), after: try RunRecorder.readSamples(samples[1]))
        struct Change: Encodable { let line: Int; let prefix: String; let target: String }
        struct Changes: Encodable { let schema_version: String; let fixed: [Change]; let broke: [Change] }
        let c = { (s: Sample) in Change(line: s.line, prefix: s.prefix, target: s.target) }
        if json {
            try printJSON(Changes(schema_version: ResultsSchema.version, fixed: fixed.map(c), broke: broke.map(c)))
            return
        }
        print("fixed \(fixed.count), broke \(broke.count)")
        for s in fixed { print("fixed  line \(s.line): \(s.prefix.debugDescription) → \(s.target.debugDescription)") }
        for s in broke { print("broke  line \(s.line): \(s.prefix.debugDescription) → \(s.target.debugDescription)") }
    }
}
