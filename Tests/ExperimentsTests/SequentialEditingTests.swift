import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// `sequential: {edits_per_step: k}`: one edit after another on the same model.
final class SequentialEditingTests: XCTestCase {
    let oneAtATime = "sequential: {edits_per_step: 1}"

    /// GRACE: three steps, each with its own codebook, tensors and state; the last record's
    /// efficacy is the retention; the edit file prepares GRACE once per step and reproduces it.
    func testGRACEEditsOneAfterAnother() throws {
        let t = try TinyExperiment(self)
        let cfg = t.config(
            method: "grace", lr: 1.0, epochs: 6, name: "seq-grace",
            methodBlock: "  method: {grace_layer: 0, grace_epsilon: 1.0}", top: oneAtATime)
        let o = try t.run(cfg)
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 4, "the unedited model and one record per edit")
        XCTAssertEqual(o.stats.last!.general, o.stats[0].general)
        let path = RunRecorder.editPath(resultsPath: t.dir + "/seq-grace.results.json", ball: Ball.paper.last!)
        let (info, _) = try EditArtifact.read(path)
        XCTAssertEqual(info.sequential_steps, 3)
        XCTAssertEqual(info.method_tensors, ["grace.0.values", "step1.grace.0.values", "step2.grace.0.values"])
        let state = try MethodStateText.decode(try XCTUnwrap(info.method_state), source: path)
        XCTAssertEqual(Set(state.keys), ["keys", "radii", "step1.keys", "step1.radii", "step2.keys", "step2.radii"])
        try checkEditReproducesLastEpoch(t, config: cfg, stats: o.stats)
    }

    /// LoRA: each step's adapters are folded into their weights before the next step attaches its
    /// own; the edit holds the folded weights and the last adapters, and reproduces the run.
    func testLoRAFoldsEachStepsAdapters() throws {
        let t = try TinyExperiment(self)
        let cfg = t.config(method: "lora", lr: 0.05, epochs: 3, name: "seq-lora", top: oneAtATime)
        let o = try t.run(cfg)
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 4)
        let saved = Ball.paper.reversed().map {
            RunRecorder.editPath(resultsPath: t.dir + "/seq-lora.results.json", ball: $0)
        }
        .first { FileManager.default.fileExists(atPath: $0) }
        let (info, _) = try EditArtifact.read(try XCTUnwrap(saved))
        XCTAssertEqual(info.sequential_steps, 3)
        XCTAssertFalse((info.tensors + (info.sparse ?? [])).isEmpty, "folded weights are stored")
        XCTAssertFalse(info.adapters.isEmpty, "the last step's adapters are stored")
        try checkEditReproducesLastEpoch(t, config: cfg, stats: o.stats)
    }

    /// Interrupted before its last step, a sequential run resumes to the uninterrupted results.
    func testAnInterruptedRunResumesToTheSameResults() throws {
        let t = try TinyExperiment(self)
        let block = "  method: {grace_layer: 0, grace_epsilon: 1.0}"
        let whole = try t.run(
            t.config(method: "grace", lr: 1.0, epochs: 4, name: "whole", methodBlock: block, top: oneAtATime))
        let cfg = t.config(method: "grace", lr: 1.0, epochs: 4, name: "cut", methodBlock: block, top: oneAtATime)
        defer { Cancellation.requested = 0 }
        XCTAssertThrowsError(try t.run(cfg) { if $0.hasPrefix("step 3/3") { Cancellation.requested = 1 } })
        Cancellation.requested = 0
        XCTAssertEqual(try RunRecorder.readLog(t.dir + "/cut.log.jsonl").count, 3)
        let resumed = try t.run(cfg)
        XCTAssertEqual(resumed.stats.count, whole.stats.count)
        for (a, b) in zip(resumed.stats, whole.stats) {
            XCTAssertEqual(a.general, b.general)
            XCTAssertEqual(a.efficacy, b.efficacy)
            XCTAssertEqual(a.train_loss, b.train_loss)
        }
    }
}
