import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// `canonedit benchmark` end to end on a tiny model: two tasks written here in the authors'
/// layout, two methods, two search points, two seeds; its tables against the run files, a
/// resumed benchmark against a whole one, and the plan.
final class BenchmarkTests: XCTestCase {
    /// Two tasks in the authors' layout (data/<task>/split/<stem>-{val,test}.jsonl) and the spec.
    func writeBenchmark(_ t: TinyExperiment, seeds: Int = 2, subsample: String = "") throws -> String {
        let root = t.dir + "/authors"
        func jsonl(_ path: String, _ rows: [[String: String]]) throws {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let text = rows.map {
                String(decoding: try! JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n")
            try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path))
        }
        let facts = [
            "val": [("Ab", " Xy"), ("Cd", " Zw"), ("Ef", " Qr")],
            "test": [("Gh", " Uv"), ("Ij", " St"), ("Kl", " Op")],
        ]
        for task in ["country_capital", "company_ceo"] {
            let f = AuthorsLayout.files[task]!
            for (split, pairs) in facts {
                func file(_ stem: String) -> String {
                    AuthorsLayout.path(root: root, task: task, stem: stem, split: split)
                }
                try jsonl(file(f.train), pairs.map { ["prefix": "Cap of \($0.0) is", "suffix": $0.1] })
                try jsonl(
                    file(f.eval),
                    pairs.flatMap {
                        [
                            ["prefix": "The cap of \($0.0) is", "suffix": $0.1],
                            ["prefix": "\($0.0): cap", "suffix": $0.1],
                        ]
                    })
                try jsonl(file(f.hardNegative), pairs.map { ["prefix": "\($0.0) has a town", "suffix": " Mn"] })
                try jsonl(file(f.unconditional), pairs.map { ["text": "The cap of \($0.0) is\($0.1)."] })
            }
        }
        let spec = t.dir + "/bench.yaml"
        try Data(
            """
            name: tiny
            data_root: authors
            general: general.jsonl
            kl: kl.jsonl
            models: [model]
            tasks: [country_capital, company_ceo]
            methods: [lora, full, senses]
            points: 2
            epochs: 2
            seeds: \(seeds)
            grad_acc_steps: 1
            seed: 3
            learning_rate: {lora: [-2, -1.5], full: [-3, -2.5]}
            method_options: {lora: {lora_rank: 4}}
            \(subsample)
            """.utf8
        ).write(to: URL(fileURLWithPath: spec))
        return spec
    }

    func benchmark(_ spec: String) throws -> Benchmark {
        let b = Benchmark(spec: try BenchmarkSpec.load(spec), executable: canoneditExecutable())
        b.workers = 2
        return b
    }

    func testATinyBenchmarkRunsResumesAndItsTablesComeFromTheRunFiles() throws {
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: canoneditExecutable()),
            "the canonedit executable is built beside the tests by swift build")
        let t = try TinyExperiment(self)
        let spec = try writeBenchmark(t)
        let b = try benchmark(spec)
        let doc = try b.run()
        let root = b.layout.root
        XCTAssertEqual(doc.models.count, 1)
        let table = doc.models[0]
        XCTAssertEqual(table.initial.map(\.task), ["company_ceo", "country_capital"])
        XCTAssertTrue(table.initial.allSatisfy { $0.validation != nil && $0.test != nil })
        // Validation and test splits differ, so their initial success is read from different runs.
        let valRuns = try JSONDecoder().decode(
            [SweepPlanner.Run].self, from: Data(contentsOf: URL(fileURLWithPath: root + "/model/plan.json")))
        XCTAssertEqual(valRuns.count, 2 * 3 * 2)
        // A Backpack-only method on a decoder has no result, and the tables say why.
        XCTAssertEqual(Set(table.missing.map(\.method)), ["senses"])
        XCTAssertTrue(table.missing.allSatisfy { $0.reason.contains("needs a Backpack model") }, "\(table.missing)")
        XCTAssertTrue(
            valRuns.allSatisfy { try! ExperimentConfig.load($0.config).training.dataset_path.hasSuffix("-val.jsonl") })
        // Every row's numbers are the test logs' own.
        let choices = try JSONDecoder().decode(
            [SweepSelect.Choice].self, from: Data(contentsOf: URL(fileURLWithPath: root + "/model/select.json")))
        XCTAssertFalse(table.rows.isEmpty)
        for r in table.rows {
            let c = try XCTUnwrap(choices.first { $0.task == r.task && $0.method == r.method && $0.ball == r.ball })
            XCTAssertEqual(c.test_configs.count, 2)
            var changes: [Double] = [], general: [Double] = [], hard: [Double] = [], greedy: [Double] = []
            for cfg in c.test_configs {
                XCTAssertTrue(try ExperimentConfig.load(cfg).training.dataset_path.hasSuffix("-test.jsonl"))
                let stats = try RunRecorder.readLog(RunPaths.sweepRun(config: cfg).log)
                let i = Ball(key: r.ball)!.lastEpochInside(stats.map(\.general), rule: .inclusive, cap: c.val_index)
                changes.append(stats[i].success - stats[0].success)
                general.append(stats[i].general / stats[0].general - 1)
                hard.append(stats[i].hard_negative! - stats[0].hard_negative!)
                greedy.append(stats[i].greedy_success! - stats[0].greedy_success!)
            }
            XCTAssertEqual(r.change, changes.reduce(0, +) / 2, accuracy: 1e-12)
            XCTAssertEqual(r.general_change!, general.reduce(0, +) / 2, accuracy: 1e-12)
            XCTAssertEqual(r.hard_negative_change!, hard.reduce(0, +) / 2, accuracy: 1e-12)
            XCTAssertNotEqual(r.hard_negative_change!, 0, "the edits moved the hard negatives")
            XCTAssertEqual(r.greedy_change!, greedy.reduce(0, +) / 2, accuracy: 1e-12)
            XCTAssertEqual(r.seeds, 2)
        }
        let written = try FileManager.default.contentsOfDirectory(atPath: root + "/model/results")
        XCTAssertFalse(written.contains { $0.contains(".edit-") }, "a benchmark keeps logs, not edits")
        for f in ["benchmark.md", "benchmark.csv", "benchmark.json", "benchmark.tex", "manifest.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/" + f), f)
        }
        let md = try String(contentsOfFile: root + "/benchmark.md", encoding: .utf8)
        XCTAssertTrue(md.contains("### country_capital (initial success: validation"), md)
        XCTAssertTrue(md.contains("| ball | full | lora | senses |"), md)
        XCTAssertTrue(md.contains("| failed: plugin senses 1.0.0 failed in prepare"), md)
        let manifest = try JSONDecoder().decode(
            BenchmarkManifest.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/manifest.json")))
        XCTAssertEqual(manifest.plugins.map(\.id).sorted(), ["full", "lora", "senses"])
        XCTAssertEqual(manifest.models[0].sha256.count, 64)
        XCTAssertEqual(manifest.data.count, 2 * 2 * 4 + 2)

        // A benchmark killed midway: some test reruns and the tables gone. Resuming gives the same tables.
        let before = try String(contentsOfFile: root + "/benchmark.json", encoding: .utf8)
        let tests = try JSONDecoder().decode(
            [SweepPlanner.Run].self, from: Data(contentsOf: URL(fileURLWithPath: root + "/model/test/plan.json")))
        for r in tests.prefix(3) {
            try FileManager.default.removeItem(atPath: r.results)
            try FileManager.default.removeItem(atPath: RunPaths.sweepRun(config: r.config).log)
        }
        try FileManager.default.removeItem(atPath: root + "/benchmark.json")
        try benchmark(spec).run()
        XCTAssertEqual(try String(contentsOfFile: root + "/benchmark.json", encoding: .utf8), before)
    }

    /// --plan counts the runs and estimates their CPU time from a calibration; nothing runs.
    func testThePlanCountsRunsAndEstimatesTime() throws {
        let t = try TinyExperiment(self)
        let spec = try writeBenchmark(t, seeds: 3, subsample: "subsample: {train: 2, eval: 3, seed: 1}")
        let b = try benchmark(spec)
        let plan = try BenchmarkPlan.make(b)
        XCTAssertEqual(plan.models.count, 1)
        XCTAssertEqual(plan.models[0].validation_runs, 2 * 3 * 2)
        XCTAssertEqual(plan.models[0].test_runs, 2 * 3 * 2 * 3, "two points: at most two configurations chosen")
        XCTAssertGreaterThan(plan.cpu_seconds, 0)
        XCTAssertGreaterThan(plan.models[0].forward_tokens_per_s, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: b.layout.root), "a plan writes none of its files")
        // The subsample kept 2 of 3 training records and 3 of 6 evaluation paragraphs, in file order.
        _ = try b.layout.prepareData()
        let f = AuthorsLayout.files["country_capital"]!
        let train = try String(
            contentsOfFile: b.layout.taskFile("country_capital", f.train, split: "val"), encoding: .utf8)
        XCTAssertEqual(train.split(separator: "\n").count, 2)
        let eval = try String(
            contentsOfFile: b.layout.taskFile("country_capital", f.eval, split: "val"), encoding: .utf8)
        XCTAssertEqual(eval.split(separator: "\n").count, 3)
    }

    func testASpecWithAnUnknownKeyOrTaskIsRefusedNamingIt() throws {
        let t = try TinyExperiment(self)
        let spec = try writeBenchmark(t)
        let text = try String(contentsOfFile: spec, encoding: .utf8)
        try (text + "\npoints_per_method: 3\n").write(toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BenchmarkSpec.load(spec)) {
            XCTAssertTrue("\($0)".contains("unknown key points_per_method"), "\($0)")
        }
        try text.replacingOccurrences(of: "company_ceo]", with: "company_cto]").write(
            toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BenchmarkSpec.load(spec)) {
            XCTAssertTrue("\($0)".contains("task company_cto is not one of"), "\($0)")
        }
    }

    /// `data fetch authors` from a file URL: the archive's files are checked against their SHA-256
    /// and written in the repository's layout; one changed byte and nothing is written.
    func testTheAuthorsDataIsFetchedOnlyWhenEveryFileMatchesItsDigest() throws {
        let dir = temporaryFolder(self)
        let repo = dir + "/repo-abc"
        let files = [
            "data/country_capital/split/country_capital_fixed-val.jsonl": "{\"prefix\": \"a\", \"suffix\": \" b\"}\n",
            "data/val100.jsonl": "{\"text\": \"general text\"}\n",
        ]
        var expected: [String: String] = [:]
        for (path, text) in files {
            let full = repo + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
            expected[path] = SHA256Digest.hex(of: Data(text.utf8))
        }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", dir + "/a.tar.gz", "-C", dir, "repo-abc"]
        try tar.run()
        tar.waitUntilExit()
        let url = URL(fileURLWithPath: dir + "/a.tar.gz").absoluteString
        try AuthorsData.fetch(url: url, into: dir + "/out", expected: expected)
        for (path, text) in files {
            XCTAssertEqual(try String(contentsOfFile: dir + "/out/" + path, encoding: .utf8), text)
        }
        var wrong = expected
        wrong["data/val100.jsonl"] = String(repeating: "0", count: 64)
        XCTAssertThrowsError(try AuthorsData.fetch(url: url, into: dir + "/out2", expected: wrong)) {
            XCTAssertTrue("\($0)".contains("data/val100.jsonl has SHA-256"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out2"), "nothing is written")
        XCTAssertEqual(AuthorsData.files.count, 6 * 8 + 1, "every task's split files and val100.jsonl")
    }
}
