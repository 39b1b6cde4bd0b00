import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// A whole sweep on the tiny model: plan, run in child processes, select, rerun, report.
final class SweepTests: XCTestCase {

    func testSweepSelectReportEndToEnd() throws {
        let exe = canoneditExecutable()
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: exe),
            "the canonedit executable is built beside the tests by swift build")
        let t = try TinyExperiment(self)
        let lora = t.config(method: "lora", lr: 0.01, epochs: 2, name: "base-lora")
        let full = t.config(method: "full", lr: 0.001, epochs: 2, name: "base-full")
        let spec = t.dir + "/sweep.yaml"
        FileManager.default.createFile(
            atPath: spec,
            contents: Data(
                """
                name: tiny
                base_configs: [\(lora), \(full)]
                runs: 2
                seed: 5
                output: \(t.dir)/sweep
                learning_rate: {lora: [-3, -1.5], full: [-4, -2.5]}
                """.utf8))
        let s = try SweepSpec.load(spec)
        let runs = try SweepPlanner.plan(s)
        XCTAssertEqual(runs.count, 4)
        XCTAssertEqual(try SweepPlanner.plan(s).map(\.config), runs.map(\.config), "planning is deterministic")
        let lrs = try runs.map { try ExperimentConfig.load($0.config).training.learning_rate }
        XCTAssertTrue(lrs[0] >= 1e-3 && lrs[0] <= pow(10, -1.5))
        XCTAssertNotEqual(lrs[0], lrs[1])
        // Every number is written with all its digits: the threshold reads back to the same double.
        let base = try ExperimentConfig.load(lora), swept = try ExperimentConfig.load(runs[0].config)
        XCTAssertEqual(swept.threshold, base.threshold)
        XCTAssertEqual(swept.threshold, 1.6094379124341003)
        let rank = try ExperimentConfig.load(runs[0].config).training.lora?["lora_rank"]?.double
        XCTAssertNotNil(rank, "LoRA's rank is drawn from its schema")

        var lines: [String] = []
        let summary = try SweepRunner(runs: runs, executable: exe, workers: 2).run()
        XCTAssertEqual(summary.succeeded, 4, "\(summary.failed)")
        // a second run skips everything
        let again = SweepRunner(runs: runs, executable: exe, workers: 2)
        again.progress = { lines.append($0) }
        XCTAssertEqual(try again.run().skipped, 4)
        XCTAssertTrue(lines.first?.contains("4 already done") == true)

        // The tiny data has no test split: a rerun on the validation files is refused, and so is
        // a "test" file with the validation file's bytes.
        XCTAssertThrowsError(
            try SweepSelect.run(folder: s.folder, rule: .success, seeds: 2, replace: ("-val", "-test"))
        ) {
            XCTAssertTrue("\($0)".contains("would use the validation data"), "\($0)")
        }
        let fm = FileManager.default
        try fm.copyItem(atPath: t.dir + "/eval.jsonl", toPath: t.dir + "/eval-copy.jsonl")
        try #"{"prefix": "Cap of Gh is", "suffix": " Uv"}"#.write(
            toFile: t.dir + "/train-test.jsonl", atomically: true, encoding: .utf8)
        var testData = [
            t.dir + "/train.jsonl": t.dir + "/train-test.jsonl", t.dir + "/eval.jsonl": t.dir + "/eval-copy.jsonl",
        ]
        XCTAssertThrowsError(
            try SweepSelect.run(
                folder: s.folder, rule: .success, seeds: 2, replace: ("-val", "-test"), testData: testData))
        let evalTest = try String(contentsOfFile: t.dir + "/eval.jsonl", encoding: .utf8).split(separator: "\n")
            .reversed()
        try (evalTest.joined(separator: "\n") + "\n").write(
            toFile: t.dir + "/eval-test.jsonl", atomically: true, encoding: .utf8)
        testData[t.dir + "/eval.jsonl"] = t.dir + "/eval-test.jsonl"
        let choices = try SweepSelect.run(
            folder: s.folder, rule: .success, seeds: 2, replace: ("-val", "-test"), testData: testData)
        let firstTest = try ExperimentConfig.load(choices[0].test_configs[0])
        XCTAssertEqual(firstTest.validation.intervention_eval_path, t.dir + "/eval-test.jsonl")
        XCTAssertEqual(firstTest.training.dataset_path, t.dir + "/train-test.jsonl")
        XCTAssertEqual(choices.count, 2 * 3, "two methods × three balls")
        let testRuns = try JSONDecoder().decode(
            [SweepPlanner.Run].self, from: Data(contentsOf: URL(fileURLWithPath: s.folder + "/test/plan.json")))
        // One rerun per chosen configuration and seed, however many balls chose it.
        let chosen = Set(choices.map { "\($0.task)|\($0.method)|\($0.config)" })
        XCTAssertEqual(testRuns.count, chosen.count * 2)
        XCTAssertEqual(Set(testRuns.map(\.config)).count, testRuns.count)
        XCTAssertEqual(try SweepRunner(runs: testRuns, executable: exe, workers: 2).run().failed.count, 0)
        let rows = try SweepReport.rows(folder: s.folder)
        XCTAssertEqual(rows.count, 6)
        XCTAssertTrue(rows.allSatisfy { $0.seeds == 2 })
        let files = try SweepReport.write(rows, folder: s.folder)
        let md = try String(contentsOfFile: s.folder + "/report/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| lora |") && md.contains("| full |"), md)
        XCTAssertTrue(files.contains { $0.hasSuffix("success-change-average.svg") })
    }

    func testSlurmArrayScriptListsUnfinishedRuns() throws {
        let runs = [
            SweepPlanner.Run(config: "/a/x.yaml", results: "/nonexistent/x.results.json", task: "t", method: "lora"),
            SweepPlanner.Run(config: "/a/y.yaml", results: "/nonexistent/y.results.json", task: "t", method: "full"),
        ]
        var r = SlurmArray.Resources()
        r.cpus = 4; r.parallel = 2
        let folder = temporaryFolder(self)
        let job = try SlurmArray.write(
            runs: runs, executable: "/opt/canonedit", folder: folder, name: "demo", resources: r)
        XCTAssertTrue(job.sbatchArguments.contains("--array=0-1%2"))
        XCTAssertTrue(job.sbatchArguments.contains("--cpus-per-task=4"))
        XCTAssertEqual(try String(contentsOfFile: job.configList, encoding: .utf8), "/a/x.yaml\n/a/y.yaml\n")
        let script = try String(contentsOfFile: job.script, encoding: .utf8)
        XCTAssertTrue(script.contains("exec '/opt/canonedit' run \"${CONFIGS[$SLURM_ARRAY_TASK_ID]}\""), script)
    }
}
