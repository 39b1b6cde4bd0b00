import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// MEMIT on tiny models: the statistics, the closed form reaching its targets, and an edit.
final class MEMITTests: XCTestCase {
    func testSecondMomentMatchesADirectComputation() throws {
        let m = try TinyModels.llama(seed: 12)
        let module = "model.layers.1.mlp.down_proj"
        let docs: [[Int32]] = [[5, 9, 30, 40, 41], [7, 8, 200, 100]]
        setenv("CANONEDIT_CACHE", temporaryFolder(self), 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        let moment = try SecondMoment.compute(model: m, module: module, docs: docs, corpusID: "test", tokens: 1000)
        // directly: capture the keys and average x xᵀ in double
        let lin = m.linears.first { $0.name == module }!
        let F = lin.inFeatures
        var direct = [Double](repeating: 0, count: F * F), n = 0
        for d in docs {
            var rows: [Float] = []
            lin.slot.capture = { x, c in rows = Array(UnsafeBufferPointer(start: x, count: c * F)) }
            try m.run(tokens: d, B: 1, T: d.count, head: TokenNLL(rows: [], targets: []), train: false)
            lin.slot.capture = nil
            for t in 0..<d.count {
                for i in 0..<F { for j in 0..<F { direct[i * F + j] += Double(rows[t * F + i] * rows[t * F + j]) } }
            }
            n += d.count
        }
        XCTAssertLessThan(maxAbsDiff(moment.array, direct.map { Float($0 / Double(n)) }), 1e-5)
        // the cache is used the second time, and a corrupted cache is refused
        let again = try SecondMoment.compute(model: m, module: module, docs: [], corpusID: "test", tokens: 1000)
        XCTAssertEqual(again.array, moment.array, "read from the cache (no documents were given)")
        let file = try FileManager.default.contentsOfDirectory(atPath: SecondMoment.cacheFolder + "/moments").first!
        let path = SecondMoment.cacheFolder + "/moments/" + file
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 5] ^= 0x11
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(
            try SecondMoment.compute(model: m, module: module, docs: [], corpusID: "test", tokens: 1000)
        ) {
            XCTAssertTrue("\($0)".contains("checksum"), "\($0)")
        }
        // an interrupted computation resumes from its saved progress and gives the same result
        let many: [[Int32]] = (0..<45).map { (i: Int) -> [Int32] in
            (0..<5).map { (j: Int) -> Int32 in Int32((i * 7 + j * 3) % 250) }
        }
        let full = try SecondMoment.compute(model: m, module: module, docs: many, corpusID: "many", tokens: 10_000)
        try FileManager.default.removeItem(atPath: SecondMoment.cacheFolder + "/moments")
        var seen = 0
        defer { Cancellation.requested = 0 }
        XCTAssertThrowsError(
            try SecondMoment.compute(model: m, module: module, docs: many, corpusID: "many", tokens: 10_000) { line in
                seen += 1
                if line.contains("tokens") && seen >= 2 { Cancellation.requested = 1 }
            })
        Cancellation.requested = 0
        var resumedAt = ""
        let resumed = try SecondMoment.compute(model: m, module: module, docs: many, corpusID: "many", tokens: 10_000) {
            if $0.contains("resuming") { resumedAt = $0 }
        }
        XCTAssertTrue(resumedAt.contains("resuming at document 40"), resumedAt)
        XCTAssertLessThan(maxAbsDiff(resumed.array, full.array), 1e-6)
        // a different token count is a different statistic: recomputed, not reused
        let other = try SecondMoment.compute(model: m, module: module, docs: docs, corpusID: "test", tokens: 4)
        XCTAssertNotEqual(other.array, moment.array)
    }

    /// MEMIT on the tiny model's layer 1 alone, with a tiny λ and no random prefixes.
    func oneLayerConfig(_ t: TinyExperiment, name: String, top: String = "") -> String {
        t.config(
            method: "memit", lr: 0, epochs: 1, name: name,
            training: """
                  method:
                    layers: "1"
                    mom2_update_weight: 0.001
                    mom2_corpus: \(t.dir)/kl.jsonl
                    context_templates: 0
                    v_num_grad_steps: 40
                    clamp_norm_factor: 4
                    kl_factor: 0.01
                """, top: top)
    }

    func testClosedFormReachesTheTargetsAndRaisesTheTargetProbability() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        let cfg = oneLayerConfig(t, name: "memit")
        var lines: [String] = []
        var e = try Experiment(configPath: cfg)
        e.progress = { lines.append($0) }
        let outcome = try e.run()
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.stats.count, 2, "epoch 0 unedited, epoch 1 edited")
        XCTAssertLessThan(
            outcome.stats[1].train_loss!, outcome.stats[0].train_loss! - 0.5, "the canonical targets became more likely"
        )
        XCTAssertNotEqual(outcome.stats[1].general, outcome.stats[0].general, "evaluation sees the closed-form edit")
        XCTAssertNotEqual(outcome.stats[1].hard_negative, outcome.stats[0].hard_negative)
        // With one layer, a tiny λ and no random prefixes (keys are then exactly the prompts'),
        // the closed form lands (almost) exactly on the targets.
        let report = try XCTUnwrap(lines.first { $0.contains("distance to targets") }, "\(lines)")
        let numbers = report.components(separatedBy: "distance to targets ")[1].components(separatedBy: " -> ").map {
            Double($0)!
        }
        XCTAssertGreaterThan(numbers[0], 0.1)
        XCTAssertLessThan(numbers[1], numbers[0] * 0.05, report)
    }

    /// Sequentially, MEMIT applies one closed-form edit per canonical example on the model the
    /// earlier ones left; the edits accumulate in the same tensors.
    func testSequentialClosedFormEditsAccumulate() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        let cfg = oneLayerConfig(t, name: "seq-memit", top: "sequential: {edits_per_step: 1}")
        let o = try t.run(cfg)
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 4)
        XCTAssertLessThan(o.stats[1].efficacy!, o.stats[3].efficacy! + 1e-9, "edits accumulate")
        XCTAssertNotEqual(o.stats[3].general, o.stats[1].general, "later edits change the model again")
    }

    /// Key statistics from fewer tokens than the MLP is wide (24 here) are singular; a ridge
    /// (mom2_ridge, a share of the mean diagonal) makes the solve well posed and moves the edit.
    func testARidgeLetsFewStatisticsTokensSolve() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        func general(ridge: Double, tokens: Int, name: String) throws -> (Double, String?) {
            let cfg = t.config(
                method: "memit", lr: 0, epochs: 1, name: name,
                training: """
                      method:
                        layers: "1"
                        mom2_corpus: \(t.dir)/kl.jsonl
                        mom2_tokens: \(tokens)
                        mom2_ridge: \(ridge)
                        context_templates: 0
                        v_num_grad_steps: 5
                    """)
            let o = try Experiment(configPath: cfg).run()
            return (o.stats.last!.general, o.error)
        }
        let (plain, e1) = try general(ridge: 0, tokens: 10_000, name: "plain")
        let (ridged, e2) = try general(ridge: 0.5, tokens: 10_000, name: "ridged")
        XCTAssertNil(e1)
        XCTAssertNil(e2)
        XCTAssertNotEqual(plain, ridged, "the ridge changes the solve")
        let (few, e3) = try general(ridge: 0.5, tokens: 4, name: "few")
        XCTAssertNil(e3)
        XCTAssertTrue(few.isFinite)
    }
}
