import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// Every ball is decided against the model exactly as loaded: epoch 0 is evaluated before any
/// plugin code runs, a prepare that changes the model is its own row, and a prepare that
/// changes a tensor it did not select ends the run.
final class BallReferenceTests: XCTestCase {
    func testAPrepareThatPerturbsTheModelDoesNotMoveTheReference() throws {
        let t = try TinyExperiment(self)
        let untouched = try t.run(t.config(method: "lora", lr: 0, epochs: 1, name: "untouched")).stats[0]
        let lib = try buildProbePlugin(self, defines: ["PROBE_PERTURB_SELECTED"])
        let o = try t.run(
            t.config(method: "probe", lr: 0, epochs: 2, name: "perturbed"),
            pluginPaths: [(lib as NSString).deletingLastPathComponent])
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats[0], untouched, "epoch 0 is the model before the plugin's prepare")
        let after = try XCTUnwrap(o.afterPrepare, "the shift is recorded as its own row")
        XCTAssertGreaterThan(abs(after.general - untouched.general), 1e-3 * untouched.general)
        XCTAssertEqual(o.stats[2].general, after.general, accuracy: 1e-12, "lr 0: the model stays as prepared")
        // Prepare alone left every ball: nothing is certified and no edit is written.
        for ball in Ball.paper {
            XCTAssertEqual(o.results.at(ball)?.index, 0, "\(ball)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: t.dir + "/perturbed.edit-\(ball.key).safetensors"))
        }
        XCTAssertEqual(o.results.after_prepare?.figures, after, "the results file has the row too")
    }

    /// A probe plugin built with `define` writes model.embed_tokens.weight, which it never
    /// selected, in `stage`: the run ends with that error.
    func assertUnselectedWriteEndsTheRun(
        _ t: TinyExperiment, define: String, stage: String, name: String, lr: Double, epochs: Int
    ) throws {
        let lib = try buildProbePlugin(self, defines: [define])
        XCTAssertThrowsError(
            try t.run(
                t.config(method: "probe", lr: lr, epochs: epochs, name: name),
                pluginPaths: [(lib as NSString).deletingLastPathComponent])
        ) {
            XCTAssertTrue(
                "\($0)".contains("changed model.embed_tokens.weight in \(stage) without selecting it"), "\($0)")
        }
    }

    func testAPrepareThatWritesAnUnselectedTensorIsRefused() throws {
        try assertUnselectedWriteEndsTheRun(
            try TinyExperiment(self), define: "PROBE_PERTURB_UNSELECTED", stage: "prepare", name: "sneaky", lr: 0,
            epochs: 1)
    }

    /// The same write during update: the epoch's numbers would not be reproducible from the
    /// saved edit, so the run ends after that epoch, before anything is certified.
    func testAnUpdateThatWritesAnUnselectedTensorEndsTheRun() throws {
        let t = try TinyExperiment(self)
        try assertUnselectedWriteEndsTheRun(
            t, define: "PROBE_PERTURB_IN_UPDATE", stage: "update", name: "sneaky-update", lr: 0.01, epochs: 2)
        for ball in Ball.paper {
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: t.dir + "/sneaky-update.edit-\(ball.key).safetensors"))
        }
    }

    func testUpdatesCarryTheirEpochAndEpochCount() throws {
        let t = try TinyExperiment(self)
        let lib = try buildProbePlugin(self)
        var lines: [String] = []
        let o = try t.run(
            t.config(method: "probe", lr: 0.01, epochs: 3, name: "epochs"),
            pluginPaths: [(lib as NSString).deletingLastPathComponent]
        ) { lines.append($0) }
        XCTAssertNil(o.error)
        let updates = lines.filter { $0.contains("probe update") }
        XCTAssertEqual(updates.count, 9, "three examples, grad_acc_steps 1, three epochs")
        for (i, line) in updates.enumerated() {
            XCTAssertTrue(line.hasSuffix("probe update epoch=\(i / 3) epochs=3 step=\(i + 1)"), line)
        }
    }

    func testEveryRunWritesItsEditsAndRemovesItsCheckpoint() throws {
        let t = try TinyExperiment(self)
        let cfg = t.config(method: "full", lr: 0.003, epochs: 2, name: "full")
        var lines: [String] = []
        let o = try t.run(cfg) { lines.append($0) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: t.dir + "/full.log.jsonl.ckpt.safetensors"))
        let evaluator = try Experiment(configPath: cfg).evaluator(tokenizer: TinyModels.byteTokenizer())
        var certified = 0
        for ball in Ball.paper {
            let i = try XCTUnwrap(o.results.at(ball)?.index)
            let path = t.dir + "/full.edit-\(ball.key).safetensors"
            guard i > 0 else { continue }
            certified += 1
            XCTAssertTrue(lines.contains { $0.contains("certified in ball \(ball.label) (epoch \(i)): \(path)") })
            // The edit applied to the model as loaded reproduces the certified figures exactly.
            let fresh = try ModelStore.load(t.dir + "/model")
            let session = EditSession(
                model: fresh.model, tokenizer: fresh.tokenizer, examples: [], lossType: .good, seed: 0)
            EditPolicy.install(on: session)
            let info = try EditArtifact.apply(path, to: session)
            XCTAssertEqual(info.tensors.count + (info.sparse ?? []).count, fresh.model.parameters.count)
            let f = try evaluator.evaluate(fresh.model)
            XCTAssertEqual(f.intervention, o.stats[i].intervention)
            XCTAssertEqual(f.general, o.stats[i].general, accuracy: 1e-9)
        }
        XCTAssertGreaterThan(certified, 0, "full finetuning at this rate stays inside some ball")
        _ = try t.run(cfg, keepCheckpoint: true, overwrite: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: t.dir + "/full.log.jsonl.ckpt.safetensors"))
    }
}
