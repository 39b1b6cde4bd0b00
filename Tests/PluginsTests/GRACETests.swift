import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// GRACE (Plugins/GRACE): a codebook of keys on one block's output, trained values.
final class GRACETests: XCTestCase {
    func grace(_ session: EditSession, layer: Int = 1, epsilon: Double = 1) throws -> PluginMethod {
        let method = PluginMethod(
            library: try PluginRegistry.find("grace"),
            options: [
                "grace_layer": .number(Double(layer)), "grace_epsilon": .number(epsilon), "beta1": .number(0.9),
                "beta2": .number(0.995), "eps": .number(1e-8),
            ])
        try method.prepare(session)
        return method
    }

    /// Trains on the tiny experiment, and the edit file (plugin, options, codebook, values)
    /// applied to a fresh model gives the figures of the epoch it was saved at.
    func testTrainsAndItsEditReproducesTheRun() throws {
        let t = try TinyExperiment(self)
        let cfg = t.config(
            method: "grace", lr: 1.0, epochs: 10, name: "grace",
            methodBlock: "  method: {grace_layer: 0, grace_epsilon: 1.0}")
        let o = try t.run(cfg)
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss! * 0.85)
        // General text comes near no key: the model is unchanged there.
        XCTAssertEqual(o.stats.last!.general, o.stats[0].general)
        try checkEditReproducesLastEpoch(t, config: cfg, stats: o.stats)
    }

    /// A codebook handed back as state is used as it is, not rebuilt from the examples: two keys,
    /// one at a position's own output (replaced by its value) and one far from everything.
    func testSavedStateIsUsedAndOnlyNearbyPositionsChange() throws {
        let model = try ModelStore.load(Fixtures.folder + "/zoo/llama").model as! DecoderLM
        let session = EditSession(
            model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 5)
        let ids: [Int32] = [10, 20, 30, 40, 50, 60]
        let C = model.spec.C
        // Block 0's output at position 3, from the plain model.
        let runHooks = RunHooks(saveAt: 1)
        try model.run(tokens: ids, B: 1, T: 6, head: LogitRows(rows: []), train: false, hooks: runHooks)
        let key = Array(UnsafeBufferPointer(start: runHooks.saved!.x.data + 3 * C, count: C))
        let far = [Float](repeating: 1e4, count: C)
        func bytes(_ v: [Float]) -> Data { v.withUnsafeBytes { Data($0) } }
        session.methodState = ["keys": bytes(key + far), "radii": bytes([1e-3, 1e-3])]
        let plain = LogitRows(rows: Array(0..<6))
        try model.run(tokens: ids, B: 1, T: 6, head: plain, train: false)
        _ = try grace(session, layer: 0)
        XCTAssertEqual(session.methodTensors.map(\.value.shape), [[2, C]])
        // Values start as their keys: nothing changes until they are trained.
        let same = LogitRows(rows: Array(0..<6))
        try model.run(tokens: ids, B: 1, T: 6, head: same, train: false)
        XCTAssertEqual(same.logits, plain.logits)
        for c in 0..<C { session.methodTensors[0].value.data[c] += 1 }
        let edited = LogitRows(rows: Array(0..<6))
        try model.run(tokens: ids, B: 1, T: 6, head: edited, train: false)
        for row in 0..<6 {
            XCTAssertEqual(edited.row(row) == plain.row(row), row < 3, "position \(row)")
        }
        // The unedited model (KL reference, ball reference) never sees the codebook.
        let original = LogitRows(rows: Array(0..<6))
        try session.withOriginalModel {
            try model.run(tokens: ids, B: 1, T: 6, head: original, train: false)
        }
        XCTAssertEqual(original.logits, plain.logits)
    }

    /// Applying a hook-based edit needs its plugin: a missing one, or one of another major
    /// version, is refused with a message naming it.
    func testAnEditsPluginMustBeFoundWithTheSameMajorVersion() throws {
        XCTAssertThrowsError(
            try PluginMethod.forEdit(MethodRecord(id: "no_such_method", version: "1.0.0", options: [:]))
        ) {
            XCTAssertTrue("\($0)".contains("no plugin with id no_such_method"), "\($0)")
        }
        XCTAssertThrowsError(try PluginMethod.forEdit(MethodRecord(id: "grace", version: "2.1.0", options: [:]))) {
            XCTAssertTrue("\($0)".contains("grace 2.1.0") && "\($0)".contains("different major version"), "\($0)")
        }
        XCTAssertThrowsError(try PluginMethod.forEdit(MethodRecord(id: "grace", version: "1.0.3", options: [:]))) {
            XCTAssertTrue("\($0)".contains("does not record grace's option"), "\($0)")
        }
        // Recorded options are checked against the schema as a config's are.
        let out = MethodRecord(
            id: "grace", version: "1.0.0",
            options: ["grace_layer": "-5.0", "grace_epsilon": "10.0", "beta1": "0.9", "beta2": "0.995", "eps": "1e-08"])
        XCTAssertThrowsError(try PluginMethod.forEdit(out)) {
            XCTAssertTrue("\($0)".contains("grace_layer") && "\($0)".contains("outside"), "\($0)")
        }
        var fine = out
        fine.options["grace_layer"] = "20.0"
        XCTAssertNoThrow(try PluginMethod.forEdit(fine))
    }
}
