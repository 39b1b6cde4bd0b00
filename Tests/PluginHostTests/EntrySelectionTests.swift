import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// Entry-level selection (train_entries, ABI 1.2): sparse originals, gradients and Adam state.
final class EntrySelectionTests: XCTestCase {
    /// The per-entry gradient equals the dense gradient at those entries; the unedited model
    /// is reachable and revert restores the tensor bit for bit.
    func testEntryGradientsOriginalsAndRevert() throws {
        let model = try ModelStore.load(Fixtures.folder + "/zoo/llama").model as! DecoderLM
        let p = model.linears.first { $0.name.hasSuffix("0.mlp.down_proj") }!.weight
        let before = p.value.array
        let ids: [Int32] = (0..<12).map { Int32(($0 * 31 + 7) % 250) }
        func pass(train: Bool) throws -> [Float] {
            let head = TokenNLL(nextTokensOf: ids, B: 2, T: 6)
            try model.run(tokens: ids, B: 2, T: 6, head: head, train: train)
            return head.nll
        }
        p.requiresGrad = true
        _ = try pass(train: true)
        let dense = p.grad!.array
        p.requiresGrad = false
        p.dropGrad()
        let entries = stride(from: 3, to: p.value.count, by: 11).map { $0 }
        let session = EditSession(
            model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 1)
        try session.train(p, entries: entries)
        XCTAssertThrowsError(try session.train(p, entries: [0]))
        let plain = try pass(train: true)
        XCTAssertEqual(p.grad!.count, entries.count, "one gradient value per entry")
        for (k, e) in entries.enumerated() {
            XCTAssertEqual(p.grad![k], dense[e], accuracy: 1e-5 + 1e-4 * abs(dense[e]), "entry \(e)")
        }
        session.adam.step(p, lr: 0.01)
        XCTAssertEqual(session.adam.states[p.name]!.m.count, entries.count)
        let after = p.value.array
        let chosen = Set(entries)
        for i in 0..<after.count where !chosen.contains(i) { XCTAssertEqual(after[i], before[i]) }
        XCTAssertTrue(entries.contains { after[$0] != before[$0] })
        XCTAssertTrue(session.differsFromOriginal)
        XCTAssertEqual(try session.withOriginalModel { try pass(train: false) }, plain)
        XCTAssertEqual(p.value.array, after, "the edit is back after running the unedited model")
        session.revert()
        XCTAssertEqual(p.value.array, before)
        XCTAssertNil(p.entries)
    }

    /// A C plugin selecting entries through the host trains only them; its checkpoint holds
    /// the entries only, and its edit file stores only changed entries and reproduces the run.
    func testAPluginTrainsEntriesEndToEnd() throws {
        let lib = try buildCPlugin(
            self, name: "libsparse_tune.so", source: Fixtures.folder + "/c-plugins/sparse_tune.c")
        let t = try TinyExperiment(self)
        let cfg = t.config(method: "sparse_tune", lr: 0.02, epochs: 3, name: "sparse")
        let folder = (lib as NSString).deletingLastPathComponent
        let o = try t.run(cfg, pluginPaths: [folder], keepCheckpoint: true)
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!)
        let ckpt = try SafetensorsFile(path: t.dir + "/sparse.log.jsonl.ckpt.safetensors")
        let name = "model.layers.0.mlp.down_proj.weight"
        XCTAssertFalse(ckpt.has(name), "the checkpoint holds no whole copy")
        let k = try XCTUnwrap(ckpt.shape(of: name + ":entries"))[0]
        XCTAssertEqual(ckpt.shape(of: "adam_m." + name), [k])
        let path = RunRecorder.editPath(resultsPath: t.dir + "/sparse.results.json", ball: Ball.paper[0])
        let (info, file) = try EditArtifact.read(path)
        XCTAssertTrue(info.tensors.isEmpty)
        let indices = try file.indices(try XCTUnwrap(info.sparse?.first) + ":indices")
        XCTAssertFalse(indices.isEmpty)
        XCTAssertTrue(indices.allSatisfy { $0 % 7 == 0 }, "only selected entries change")
        // A third-party method's edit of model tensors needs --trust-edit.
        try checkEditReproducesLastEpoch(t, config: cfg, stats: o.stats, pluginPaths: [folder], trust: true)
    }

    /// Interrupted and resumed, an entry-selected run ends as an uninterrupted one does.
    func testAnInterruptedEntryRunResumesToTheSameResults() throws {
        let lib = try buildCPlugin(
            self, name: "libsparse_tune.so", source: Fixtures.folder + "/c-plugins/sparse_tune.c")
        let folder = (lib as NSString).deletingLastPathComponent
        let t = try TinyExperiment(self)
        let whole = try t.run(
            t.config(method: "sparse_tune", lr: 0.02, epochs: 4, name: "whole"), pluginPaths: [folder])
        let cfg = t.config(method: "sparse_tune", lr: 0.02, epochs: 4, name: "cut")
        defer { Cancellation.requested = 0 }
        XCTAssertThrowsError(
            try t.run(cfg, pluginPaths: [folder]) { if $0.hasPrefix("epoch 3/4") { Cancellation.requested = 1 } })
        Cancellation.requested = 0
        let resumed = try t.run(cfg, pluginPaths: [folder])
        XCTAssertEqual(resumed.stats.count, whole.stats.count)
        for (a, b) in zip(resumed.stats, whole.stats) {
            XCTAssertEqual(a.general, b.general)
            XCTAssertEqual(a.train_loss, b.train_loss)
        }
    }
}
