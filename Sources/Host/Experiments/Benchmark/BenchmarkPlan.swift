import Engine
import Foundation
import PluginHost
import Setting
import Support

/// `benchmark --plan`: how many runs a benchmark makes and about how much CPU time they take,
/// from the tokens of its data and a short calibration of each model (a timed forward and
/// forward+backward pass, one thread), before anything runs.
public struct BenchmarkPlan: Codable {
    public struct ModelEstimate: Codable {
        public var model: String
        public var validation_runs: Int, test_runs: Int
        /// Measured on one thread, 1 × 64 tokens.
        public var forward_tokens_per_s: Double, forward_backward_tokens_per_s: Double
        /// Seconds of one thread: every run's epochs of training and its evaluations.
        public var cpu_seconds: Double
    }
    public var models: [ModelEstimate]
    public var cpu_seconds: Double { models.map(\.cpu_seconds).reduce(0, +) }

    /// Runs per model: points per task × method on validation, and at most the reruns of one
    /// chosen configuration per ball with every seed (a configuration chosen for several balls
    /// is rerun once).
    static func counts(_ spec: BenchmarkSpec, methods: Int) -> (validation: Int, test: Int) {
        let pairs = spec.taskNames.count * methods
        return (pairs * spec.points, pairs * min(spec.points, Ball.paper.count) * spec.seeds)
    }

    public static func make(
        _ b: Benchmark, calibrate: (LoadedModel) throws -> BenchResult = Self.calibration
    ) throws -> BenchmarkPlan {
        // The data and configs it measures go to a folder of its own: a plan never touches a benchmark's files.
        var spec = b.spec
        let scratch = NSTemporaryDirectory() + "canonedit-plan-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        spec.output = scratch
        let layout = BenchmarkLayout(spec: spec), methods = try b.methods()
        let (val, test) = counts(spec, methods: methods.count)
        _ = try layout.prepareData()
        var out: [ModelEstimate] = []
        for model in spec.models {
            let lm = try ModelLoader.load(try ModelStore.resolveConfigModel(spec.resolveModel(model)))
            let rate = try calibrate(lm)
            var seconds = 0.0
            for task in spec.taskNames {
                let config = try layout.writeBaseConfig(model: model, task: task, method: methods[0].id)
                let c = try ExperimentConfig.load(config)
                let exp = try Experiment(configPath: config)
                let data = try exp.data().tokenized(with: lm.tokenizer, contextLength: lm.model.contextLength)
                let evalTokens = Double(data.evaluator.scoredLengths.joined().reduce(0, +))
                let lengths = data.train.map { Double($0.prefix.count + $0.suffix.count) }
                let kl =
                    data.klDocs.isEmpty ? 0 : Double(data.klDocs.map(\.count).reduce(0, +)) / Double(data.klDocs.count)
                // Under the authors' rule one iteration in grad_acc_steps reaches the update (with its
                // backward and KL document); the others run forward only.
                let share = c.accumulate ? 1 : 1 / Double(c.gradAccSteps)
                let epoch = lengths.map {
                    share * ($0 + kl) / rate.forward_backward_tokens_per_s + (1 - share) * $0
                        / rate.forward_tokens_per_s
                }.reduce(0, +)
                let perRun =
                    Double(spec.epochs) * epoch + Double(spec.epochs + 1) * evalTokens / rate.forward_tokens_per_s
                seconds +=
                    perRun * Double(methods.count)
                    * Double(spec.points + min(spec.points, Ball.paper.count) * spec.seeds)
            }
            out.append(
                ModelEstimate(
                    model: model, validation_runs: val, test_runs: test,
                    forward_tokens_per_s: rate.forward_tokens_per_s,
                    forward_backward_tokens_per_s: rate.forward_backward_tokens_per_s, cpu_seconds: seconds))
        }
        return BenchmarkPlan(models: out)
    }

    /// One thread, a sequence of 64 tokens, every parameter trained: what a run's passes cost.
    public static func calibration(_ lm: LoadedModel) throws -> BenchResult {
        let threads = Blas.threads
        Blas.setThreads(1)
        defer { Blas.setThreads(threads) }
        return try Bench.run(lm, B: 1, T: 64, reps: 2, train: .all, progress: { _ in })
    }

    /// "2 models: 96 validation runs and 72 test reruns, about 3.4 CPU hours".
    public var summary: String {
        let runs = models.map {
            "\($0.model): \($0.validation_runs) validation runs and at most \($0.test_runs) test reruns, "
                + String(
                    format: "about %.1f CPU hours (forward %.0f, forward+backward %.0f tokens/s)",
                    $0.cpu_seconds / 3600, $0.forward_tokens_per_s, $0.forward_backward_tokens_per_s)
        }
        return runs.joined(separator: "\n") + String(format: "\nin all about %.1f CPU hours", cpu_seconds / 3600)
    }
}
