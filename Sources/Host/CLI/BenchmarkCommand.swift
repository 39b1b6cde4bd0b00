import ArgumentParser
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "The paper's comparison: models × tasks × methods × balls on data in the authors' layout.",
        discussion: """
            SPEC is YAML (docs/benchmark.md): name, data_root (the authors' layout: \
            data/<task>/split/*-{val,test}.jsonl), general and kl corpora, models, tasks (default all six), \
            methods (default every plugin found), points \
            (random configurations per model × task × method on validation), epochs, seeds (test reruns per \
            selected configuration), subsample, method_options, learning_rate, rule, output. For each model: the \
            search on the validation split, for each ball the best configuration under the last-epoch-in-ball rule, \
            its test reruns, and the tables (benchmark.md, .csv, .json, .tex; each model's figures in \
            <output>/<model>/report). Runs are child processes; what is finished is skipped, so rerunning a killed \
            benchmark resumes it and gives the same tables. --plan prints the runs and an estimate of their CPU \
            time from a short calibration, and runs nothing.
            """ + "\n\n"
                + examples(
                    "canonedit benchmark --preset smollm2-authors-quick --plan",
                    "canonedit benchmark configs/benchmarks/smollm2-authors.yaml --workers 2"))
    @Argument(help: "Benchmark spec (YAML).") var spec: String?
    @Option(help: "A shipped spec by name (configs/benchmarks/NAME.yaml): smollm2-authors, smollm2-authors-quick, …")
    var preset: String?
    @Flag(help: "Print the runs and their estimated CPU time; run nothing.") var plan = false
    @Option(help: "Runs at once, each on one thread (default: as many as the cores and the memory plan allow).")
    var workers: Int?
    @Option(name: .customLong("plugin-path"), help: "Extra plugin folder (repeatable).") var pluginPath: [String] = []
    @Flag(help: "Run each phase as a Slurm job array (sbatch --wait) instead of local workers.") var slurm = false
    @Option(name: .customLong("slurm-cpus"), help: "CPUs per array task.") var cpus = 2
    @Option(name: .customLong("slurm-mem"), help: "Memory per array task.") var mem = "8G"
    @Option(name: .customLong("slurm-time"), help: "Time limit per array task.") var time = "02:00:00"
    @Option(name: .customLong("slurm-partition"), help: "Partition.") var partition: String?

    func validate() throws {
        try require((spec == nil) != (preset == nil), "give a SPEC or --preset NAME, not both")
        try require((workers ?? 1) >= 1, "--workers must be at least 1")
        try requireFolders(pluginPath, "--plugin-path")
    }

    func run() throws {
        try guarded {
            Cancellation.install()
            let s = try BenchmarkSpec.load(try spec ?? Self.presetPath(preset!))
            let b = Benchmark(spec: s, executable: HostPaths.executable, pluginPaths: pluginPath)
            b.version = VersionText.text
            b.progress = { stderr($0) }
            if plan {
                let p = try BenchmarkPlan.make(b)
                print(p.summary)
                return
            }
            if slurm {
                var r = SlurmArray.Resources()
                (r.cpus, r.memory, r.time, r.partition) = (cpus, mem, time, partition)
                b.slurm = r
                stderr("benchmark \(s.name): Slurm job arrays, output in \(s.outputFolder)")
            } else {
                b.workers = workers
                if let workers { stderr("benchmark \(s.name): \(workers) worker(s), output in \(s.outputFolder)") }
            }
            try b.run()
            stderr("tables: \(s.outputFolder)/benchmark.md")
        }
    }

    /// configs/benchmarks/NAME.yaml in the working folder, else in the checkout the executable
    /// was built in.
    static func presetPath(_ name: String) throws -> String {
        guard SweepSpec.isSafeName(name) else {
            throw CanonEditError("--preset \(name.debugDescription) is not a name")
        }
        let file = "configs/benchmarks/\(name).yaml"
        let folders = ["."] + [HostPaths.checkout].compactMap { $0 }
        for f in folders where FileManager.default.fileExists(atPath: f + "/" + file) { return f + "/" + file }
        let shipped =
            folders.lazy.compactMap { try? FileManager.default.contentsOfDirectory(atPath: $0 + "/configs/benchmarks") }
            .first ?? []
        let names = shipped.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
        throw CanonEditError("no preset \(name) (shipped: \(names.joined(separator: ", ")))")
    }
}
