import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// What a run certifies is on disk, two runs never write the same outputs, a resume checks its
/// data, a kept run can be extended, and sweep runs never overwrite each other.
final class RunIntegrityTests: XCTestCase {
    func testAResumeRewritesAMissingEditAndRefusesALostOne() throws {
        let t = try TinyExperiment(self)
        let cfg = t.config(method: "lora", lr: 1e-4, epochs: 2, name: "gap")
        let o = try t.run(cfg, keepCheckpoint: true)
        let ball = try XCTUnwrap(Ball.paper.first { o.results.at($0)?.index == 2 }, "the last epoch is certified")
        let path = t.dir + "/gap.edit-\(ball.key).safetensors"
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        // The edit of the checkpoint's own epoch went missing (the disk filled between the two
        // writes): the resumed run writes it again, the same bytes.
        try FileManager.default.removeItem(atPath: path)
        var lines: [String] = []
        _ = try t.run(cfg, keepCheckpoint: true) { lines.append($0) }
        XCTAssertTrue(
            lines.contains { $0.contains("missing or corrupt; written again from the checkpoint") }, "\(lines)")
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(try EditArtifact.read(path).0.epoch, 2)
        XCTAssertEqual(before.count, after.count)
        // An edit certified at an earlier epoch than the checkpoint's cannot be rebuilt: refused.
        let c = try ExperimentConfig.load(cfg)
        let recorder = try RunRecorder(
            logPath: t.dir + "/lost.log", resultsPath: t.dir + "/lost.json", config: c, modelPath: "m")
        let model = try TinyModels.llama()
        let session = EditSession(
            model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 0)
        let stats = [1.0, 1.0, 1.5].map { EpochFigures(intervention: 0.5, general: $0) }
        XCTAssertThrowsError(try recorder.verifyEdits(stats, session: session, method: "lora", modelPath: "m")) {
            XCTAssertTrue(
                "\($0)".contains("at epoch 1 is missing or corrupt, and the checkpoint holds epoch 2"), "\($0)")
        }
    }

    func testTwoRunsCannotWriteTheSameOutputs() throws {
        let t = try TinyExperiment(self)
        let cfg = try ExperimentConfig.load(t.config(method: "lora", lr: 0.05, epochs: 1, name: "shared"))
        var first: RunRecorder? = try RunRecorder(
            logPath: t.dir + "/shared.log", resultsPath: t.dir + "/r1.json", config: cfg, modelPath: "m")
        XCTAssertThrowsError(
            try RunRecorder(logPath: t.dir + "/other.log", resultsPath: t.dir + "/r1.json", config: cfg, modelPath: "m")
        ) {
            XCTAssertTrue(
                "\($0)".contains("r1.json: another canonedit process (pid \(getpid())) is writing it"), "\($0)")
        }
        XCTAssertNotNil(first)
        first = nil
        // Released with its owner.
        XCTAssertNoThrow(
            try RunRecorder(logPath: t.dir + "/other.log", resultsPath: t.dir + "/r1.json", config: cfg, modelPath: "m")
        )
    }

    func testAResumeRefusesChangedDataAndAKeptRunExtends() throws {
        let t = try TinyExperiment(self)
        let cfg = t.config(method: "lora", lr: 0.05, epochs: 2, name: "data")
        defer { Cancellation.requested = 0 }
        XCTAssertThrowsError(try t.run(cfg) { if $0.hasPrefix("epoch 2/2") { Cancellation.requested = 1 } })
        Cancellation.requested = 0
        let train = t.dir + "/train.jsonl"
        try AtomicFile.write(
            try Data(contentsOf: URL(fileURLWithPath: train))
                + Data(#"{"prefix": "Cap of Gh is", "suffix": " Uv"}"#.utf8),
            to: train)
        XCTAssertThrowsError(try t.run(cfg)) {
            XCTAssertTrue("\($0)".contains("training.dataset_path (\(train)) changed since this checkpoint"), "\($0)")
        }
        // A finished run kept with its checkpoint runs on to more epochs.
        let keep = t.config(method: "lora", lr: 0.05, epochs: 2, name: "extend")
        let two = try t.run(keep, keepCheckpoint: true)
        var e = try Experiment(configPath: keep, epochs: 3)
        var lines: [String] = []
        e.progress = { lines.append($0) }
        let three = try e.run()
        XCTAssertTrue(lines.contains("resuming after epoch 2 of 3"), "\(lines)")
        XCTAssertEqual(three.stats.count, 4)
        XCTAssertEqual(Array(three.stats.prefix(3)), two.stats)
    }

    /// A run deletes its checkpoint when it finishes, so its last epoch writes none; a kept
    /// checkpoint holds every epoch. Read as each epoch's line is printed (after its records).
    func testTheLastEpochIsCheckpointedOnlyWhenTheCheckpointIsKept() throws {
        let t = try TinyExperiment(self)
        for keep in [false, true] {
            let cfg = t.config(method: "lora", lr: 0.05, epochs: 2, name: "last-\(keep)")
            var held: [String: Int] = [:]
            _ = try t.run(cfg, keepCheckpoint: keep) { line in
                guard let epoch = ["epoch 1:", "epoch 2:"].first(where: line.hasPrefix) else { return }
                let f = try? SafetensorsFile(path: t.dir + "/last-\(keep).log.jsonl.ckpt.safetensors")
                let records = f?.metadata["records"].flatMap {
                    try? JSONDecoder().decode([EpochFigures].self, from: Data($0.utf8))
                }
                held[epoch] = (records?.count ?? 0) - 1
            }
            XCTAssertEqual(held, ["epoch 1:": 1, "epoch 2:": keep ? 2 : 1], "keep \(keep)")
            XCTAssertEqual(try RunRecorder.readLog(t.dir + "/last-\(keep).log.jsonl").count, 3)
        }
    }

    func testSweepRunsOfTwoBaseConfigsOfOneTaskAndMethodKeepTheirOwnNames() throws {
        let t = try TinyExperiment(self)
        let a = t.config(method: "lora", lr: 0.05, epochs: 1, name: "first")
        let b = t.config(method: "lora", lr: 0.01, epochs: 1, name: "second")
        let spec = t.dir + "/sweep.yaml"
        try AtomicFile.write(
            Data("name: twins\nbase_configs: [\(a), \(b)]\nruns: 2\noutput: \(t.dir)/sweep\n".utf8), to: spec)
        let plan = try SweepPlanner.plan(try SweepSpec.load(spec))
        XCTAssertEqual(plan.count, 4)
        XCTAssertEqual(Set(plan.map(\.config)).count, 4, "\(plan.map(\.config))")
        XCTAssertTrue(plan[0].config.hasSuffix("-lora-first-0.yaml"), plan[0].config)
        try AtomicFile.write(Data("name: twice\nbase_configs: [\(a), \(a)]\nruns: 1\n".utf8), to: spec)
        XCTAssertThrowsError(try SweepPlanner.plan(try SweepSpec.load(spec))) {
            XCTAssertTrue("\($0)".contains("is listed twice"), "\($0)")
        }
    }
}
