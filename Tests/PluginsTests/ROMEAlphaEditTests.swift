import TestSupport
import XCTest

@testable import Experiments
@testable import Setting
@testable import Support

/// ROME and AlphaEdit on the tiny model, through the host: what each inserts, and what
/// AlphaEdit carries from one sequential step to the next.
final class ROMEAlphaEditTests: XCTestCase {
    /// Statistics of 8 tokens (rank ≤ 8 of 24 features), so that a null space exists.
    let alphaOptions = """
            mom2_tokens: 8
            nullspace_threshold: 1e-5
            l2: 0.001
        """

    func methodConfig(
        _ t: TinyExperiment, _ method: String, name: String, options: String, top: String = "", layers: String = "1"
    ) -> String {
        t.config(
            method: method, lr: 0, epochs: 1, name: name,
            training: """
                  method:
                    layers: "\(layers)"
                    mom2_corpus: \(t.dir)/kl.jsonl
                    context_templates: 0
                    v_num_grad_steps: 30
                    kl_factor: 0.01
                \(options)
                """, top: top)
    }

    /// The numbers after "distance to target(s)" in each log line: (before, after).
    func distances(_ lines: [String]) -> [(Double, Double)] {
        lines.filter { $0.contains("distance to target") }.map { line in
            let tail = line.components(separatedBy: "distance to target")[1].drop { $0 != " " }.dropFirst()
            let parts = tail.components(separatedBy: " -> ").map { Double($0.trimmingCharacters(in: .whitespaces))! }
            return (parts[0], parts[1])
        }
    }

    /// ROME's insertion makes the prompt's own key map to the target exactly: with no random
    /// prefixes the residual reaches z up to rounding, one example after another.
    func testROMEInsertsEachTargetExactly() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        var lines: [String] = []
        let o = try t.run(methodConfig(t, "rome", name: "rome", options: "    clamp_norm_factor: 4")) {
            lines.append($0)
        }
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats[1].train_loss!, o.stats[0].train_loss! - 0.5, "the targets became more likely")
        let d = distances(lines)
        XCTAssertEqual(d.count, 3, "\(lines)")
        for (before, after) in d {
            XCTAssertGreaterThan(before, 0.1)
            XCTAssertLessThan(after, before * 1e-3)
        }
        // one layer only
        XCTAssertThrowsError(try t.run(methodConfig(t, "rome", name: "two", options: "", layers: "0-1"))) {
            XCTAssertTrue("\($0)".contains("rome edits one layer"), "\($0)")
        }
    }

    /// AlphaEdit on statistics of 8 tokens (rank ≤ 8 of 24 features, so a null space exists):
    /// it edits, says how large the null space is, and in sequential editing each step keeps the
    /// keys of the steps before it. A threshold no eigenvalue is under is an error saying so.
    func testAlphaEditProjectsAndCarriesEarlierKeys() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        var lines: [String] = []
        let o = try t.run(
            methodConfig(t, "alphaedit", name: "seq", options: alphaOptions, top: "sequential: {edits_per_step: 1}")
        ) { lines.append($0) }
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 4)
        XCTAssertTrue(lines.contains { $0.contains("null space of") }, "\(lines)")
        let kept = lines.filter { $0.contains("earlier kept") }
        XCTAssertEqual(kept.count, 3, "\(lines)")
        for (s, line) in kept.enumerated() { XCTAssertTrue(line.contains("(\(s) earlier kept)"), line) }
        for (before, after) in distances(lines) { XCTAssertLessThan(after, before) }

        let none = try t.run(
            methodConfig(t, "alphaedit", name: "none", options: "    nullspace_threshold: 0"))
        XCTAssertTrue(none.error?.contains("raise the threshold") ?? false, "\(none.error ?? "")")
    }

    /// The carried keys are checkpointed with each step: interrupted before its last step, a
    /// sequential AlphaEdit run resumes with the keys of both earlier steps and ends as the
    /// uninterrupted run does.
    func testAlphaEditResumesWithTheCarriedKeys() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        let top = "sequential: {edits_per_step: 1}"
        let whole = try t.run(methodConfig(t, "alphaedit", name: "whole", options: alphaOptions, top: top))
        let cfg = methodConfig(t, "alphaedit", name: "cut", options: alphaOptions, top: top)
        defer { Cancellation.requested = 0 }
        XCTAssertThrowsError(try t.run(cfg) { if $0.hasPrefix("step 3/3") { Cancellation.requested = 1 } })
        Cancellation.requested = 0
        var lines: [String] = []
        let resumed = try t.run(cfg) { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.contains("(2 earlier kept)") }, "\(lines)")
        XCTAssertEqual(resumed.stats.count, whole.stats.count)
        for (a, b) in zip(resumed.stats, whole.stats) {
            XCTAssertEqual(a.general, b.general)
            XCTAssertEqual(a.efficacy, b.efficacy)
        }
    }
}
