import Engine
import Foundation
import PluginHost
import Setting
import Support

/// `canonedit benchmark`: the paper's protocol over models × tasks × methods. Per model: a
/// random search on the validation split (a sweep per model, each run a child process), for
/// each ball the best validation configuration under the last-epoch-in-ball rule, its test
/// reruns with the spec's seeds, and the tables. Every step skips what is already on disk, so
/// a killed benchmark resumes where it stopped and gives the same tables.
public final class Benchmark {
    public let spec: BenchmarkSpec
    public let layout: BenchmarkLayout
    let executable: String
    let pluginPaths: [String]
    /// Local workers; nil sizes them by `workersThatFit` once the runs are planned.
    public var workers: Int?
    /// When set, each phase is a Slurm job array the benchmark waits for, instead of local workers.
    public var slurm: SlurmArray.Resources?
    public var version = "unknown"
    public var progress: (String) -> Void = { _ in }

    public init(spec: BenchmarkSpec, executable: String, pluginPaths: [String] = []) {
        (self.spec, self.executable, self.pluginPaths) = (spec, executable, pluginPaths)
        layout = BenchmarkLayout(spec: spec)
    }

    /// The methods compared: the spec's, else every plugin found.
    public func methods() throws -> [PluginLibrary] {
        guard let ids = spec.methods else {
            return PluginRegistry.discover(extra: pluginPaths).plugins.sorted { $0.id < $1.id }
        }
        return try ids.map { try PluginRegistry.find($0, extra: pluginPaths) }
    }

    /// One model's search: its sweep spec and the validation runs it plans.
    public struct ModelPlan {
        public let model: String, folder: String
        public let sweep: SweepSpec
        public let runs: [SweepPlanner.Run]
    }

    /// Writes the data, every base config and each model's validation plan (deterministic).
    public func prepare() throws -> (plans: [ModelPlan], sources: [String: String]) {
        let sources = try layout.prepareData()
        let methods = try methods().map(\.id)
        var plans: [ModelPlan] = []
        for model in spec.models {
            var bases: [String] = []
            for task in spec.taskNames {
                for m in methods { bases.append(try layout.writeBaseConfig(model: model, task: task, method: m)) }
            }
            let folder = layout.modelFolder(model)
            let sweep = SweepSpec(
                name: String((spec.name + "-" + BenchmarkLayout.modelName(model)).prefix(64)), base_configs: bases,
                runs: spec.points, seed: spec.seed, epochs: spec.epochs, output: folder,
                learning_rate: spec.learning_rate)
            plans.append(ModelPlan(model: model, folder: folder, sweep: sweep, runs: try SweepPlanner.plan(sweep)))
        }
        return (plans, sources)
    }

    /// Runs (or resumes) everything and writes the report; returns its document.
    @discardableResult
    public func run() throws -> BenchmarkReport.Document {
        let (plans, sources) = try prepare()
        if slurm == nil, workers == nil {
            workers = workersThatFit(plans)
            progress("benchmark \(spec.name): \(workers!) worker(s), output in \(spec.outputFolder)")
        }
        let rule = SweepSelect.Rule(rawValue: spec.rule ?? "success")!
        var tables: [BenchmarkReport.ModelTable] = []
        for p in plans {
            progress("benchmark: \(p.model): \(p.runs.count) validation runs")
            try runAll(p.runs, folder: p.folder, name: p.sweep.name)
            _ = try SweepSelect.run(
                folder: p.folder, rule: rule, seeds: spec.seeds, replace: ("-val.jsonl", "-test.jsonl"))
            let tests = try JSONDecoder().decode(
                [SweepPlanner.Run].self, from: try Data(contentsOf: URL(fileURLWithPath: p.folder + "/test/plan.json")))
            progress("benchmark: \(p.model): \(tests.count) test reruns")
            try runAll(tests, folder: p.folder + "/test", name: p.sweep.name)
            let names = Dictionary(try methods().map { ($0.id, $0.displayName) }, uniquingKeysWith: { a, _ in a })
            let rows = try SweepReport.rows(folder: p.folder)
            _ = try SweepReport.write(rows, folder: p.folder, names: names, note: progress)
            tables.append(BenchmarkReport.table(model: p.model, rows: rows, validation: p.runs, tests: tests))
        }
        try BenchmarkManifest.write(
            spec: spec, layout: layout, version: version, sources: sources, methods: try methods(),
            configs: plans.flatMap { $0.sweep.base_configs })
        let doc = BenchmarkReport.Document(name: spec.name, models: tables)
        try BenchmarkReport.write(doc, folder: layout.root)
        return doc
    }

    func runAll(_ runs: [SweepPlanner.Run], folder: String, name: String) throws {
        if let slurm {
            let job = try SlurmArray.write(
                runs: runs, executable: executable, folder: folder, name: name, resources: slurm)
            guard job.tasks > 0 else { return }
            progress("benchmark: submitting \(job.tasks) runs as a Slurm job array and waiting for it")
            progress("benchmark: job array \(try SlurmArray.submit(job, wait: true)) done")
            for r in runs where SweepRunner.finished(r) == false || SweepRunner.error(of: r) != nil {
                progress("benchmark: \(r.config) failed: \(SweepRunner.error(of: r) ?? "no results")")
            }
            return
        }
        let runner = SweepRunner(
            runs: runs, executable: executable, workers: workers ?? 1, extraArguments: pluginArguments)
        runner.progress = progress
        let summary = try runner.run()
        for f in summary.failed { progress("benchmark: \(f.config) failed: \(f.reason)") }
    }

    var pluginArguments: [String] { pluginPaths.flatMap { ["--plugin-path", $0] } }

    /// As many workers as there are cores and as the largest run's memory plan leaves room for.
    func workersThatFit(_ plans: [ModelPlan]) -> Int {
        let largest =
            plans.flatMap(\.sweep.base_configs).prefix(64).compactMap { config -> Int? in
                guard var e = try? Experiment(configPath: config) else { return nil }
                e.pluginPaths = pluginPaths
                return try? e.plan()?.total
            }.max() ?? 0
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard largest > 0, let available = ModelStore.availableMemory() else { return max(1, cores) }
        return max(1, min(cores, available / largest))
    }
}
