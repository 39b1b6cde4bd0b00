import Engine
import Foundation
import PluginHost
import Setting
import Support

/// Choosing the best validation configuration per task × method × ball, and rerunning it
/// (the authors' `plotting/report_*.py`).
public enum SweepSelect {
    public struct Choice: Codable {
        public var task: String, method: String, ball: String
        public var config: String
        public var val_success: Double, val_improvement: Double, val_index: Int
        public var test_configs: [String]
    }

    /// How the best validation run is chosen: highest success (the authors' Backpack rule) or
    /// highest improvement over the unedited model (their Pythia/GPT-J rule).
    public enum Rule: String, CaseIterable {
        case success, improvement
    }

    /// A finished validation run's standing in one ball.
    struct Candidate {
        let run: SweepPlanner.Run
        let success: Double, improvement: Double, index: Int
        func score(_ rule: Rule) -> Double { rule == .improvement ? improvement : success }
    }

    /// Test configs take their data as `TestSplit` says (`testData` first, then `replace`) and
    /// seeds 0..<seeds.
    public static func run(
        folder: String, rule: Rule, seeds: Int, replace: (String, String), testData: [String: String] = [:],
        balls: [Ball] = Ball.paper
    ) throws -> [Choice] {
        let split = TestSplit(explicit: testData, replace: replace)
        guard let data = FileManager.default.contents(atPath: folder + "/plan.json") else {
            throw CanonEditError("\(folder)/plan.json: no sweep plan here")
        }
        let runs = try JSONDecoder().decode([SweepPlanner.Run].self, from: data)
        var best: [String: Candidate] = [:]
        var order: [String] = []
        for r in runs where SweepRunner.finished(r) && SweepRunner.error(of: r) == nil {
            guard let res = try? RunResults.read(r.results), let initial = res.initial?.success else { continue }
            for ball in balls {
                guard let at = res.at(ball), let idx = at.index else { continue }
                let candidate = Candidate(run: r, success: at.success, improvement: at.success - initial, index: idx)
                let key = "\(r.task)|\(r.method)|\(ball.key)"
                if best[key] == nil { order.append(key) }
                if best[key] == nil || candidate.score(rule) > best[key]!.score(rule) { best[key] = candidate }
            }
        }
        var choices: [Choice] = []
        try Folder.make(folder + "/test/configs")
        try Folder.make(folder + "/test/results")
        for key in order {
            let c = best[key]!
            let (r, s, imp, idx) = (c.run, c.success, c.improvement, c.index)
            let ball = key.split(separator: "|")[2]
            var test = try split.apply(to: try ExperimentConfig.load(r.config), configPath: r.config)
            var tests: [String] = []
            for seed in 0..<seeds {
                // Named after the chosen configuration, not the ball: a configuration chosen for
                // several balls is rerun once per seed, and each ball reads its own epoch from it.
                let chosen = ((r.config as NSString).lastPathComponent as NSString).deletingPathExtension
                let name = "\(chosen)-seed\(seed)"
                let (path, paths) = RunPaths.sweepRun(folder: folder + "/test", name: name)
                (test.seed, test.logfile, test.resultsfile) = (seed, paths.log, paths.results)
                try AtomicFile.write(Data(try test.yamlText().utf8), to: path)
                tests.append(path)
            }
            choices.append(
                Choice(
                    task: r.task, method: r.method, ball: String(ball), config: r.config, val_success: s,
                    val_improvement: imp,
                    val_index: idx, test_configs: tests))
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(choices), to: folder + "/select.json")
        var seen = Set<String>()
        let testRuns = choices.flatMap { c in
            c.test_configs.filter { seen.insert($0).inserted }.map {
                SweepPlanner.Run(
                    config: $0,
                    results: RunPaths.sweepRun(config: $0).results,
                    task: c.task, method: c.method)
            }
        }
        try AtomicFile.write(try JSONEncoder().encode(testRuns), to: folder + "/test/plan.json")
        return choices
    }
}
