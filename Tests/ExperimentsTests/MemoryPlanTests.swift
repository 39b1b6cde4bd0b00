import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support
import TestSupport
import XCTest

/// The memory plan made before loading: it refuses a run that does not fit (naming the largest
/// items and the fix), turns recomputation on only when that is what makes a run fit, and counts
/// the tensors the model really has.
final class MemoryPlanTests: XCTestCase {
    func experiment(_ t: TinyExperiment, method: String, limit: Int? = nil, lines: Box? = nil) throws -> Experiment {
        var e = try Experiment(configPath: t.config(method: method, lr: 1e-3, epochs: 2, name: method))
        e.memoryLimit = limit
        e.overwrite = true  // runs of one config with different limits
        if let lines { e.progress = { lines.items.append($0) } }
        return e
    }

    final class Box { var items: [String] = [] }

    func testARunThatDoesNotFitIsRefusedBeforeTheModelIsLoaded() throws {
        let t = try TinyExperiment(self)
        let need = try experiment(t, method: "full").plan()!.total
        let lines = Box()
        let e = try experiment(t, method: "full", limit: need / 2, lines: lines)
        XCTAssertThrowsError(try e.run()) { error in
            let m = "\(error)"
            for part in [
                "needs about", "is allowed by --memory-limit; nothing was loaded", "Largest: ",
                "What would make it fit: ", "a method that trains fewer whole tensors", "memory plan:", "runtime",
            ] {
                XCTAssertTrue(m.contains(part), "\(part) in \(m)")
            }
        }
        XCTAssertFalse(lines.items.contains { $0.hasPrefix("loading model") }, "\(lines.items)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: t.dir + "/full.log.jsonl"))
        // With room it runs, and says what it planned.
        let ok = Box()
        _ = try experiment(t, method: "full", limit: need * 2, lines: ok).run()
        XCTAssertTrue(ok.items.contains { $0.hasPrefix("memory plan: about") }, "\(ok.items)")
    }

    /// A third-party plugin is planned from its own description (ABI 1.3's describe); one
    /// without it as if it trained every parameter, and the plan says so.
    func testAPluginIsPlannedFromItsOwnDescription() throws {
        let t = try TinyExperiment(self)
        let full = try experiment(t, method: "full").plan()!
        var totals: [Bool: Int] = [:]
        for describes in [true, false] {
            let folder = temporaryFolder(self) + (describes ? "/described" : "/silent")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let lib = try buildCPlugin(
                self, defines: describes ? [] : ["CE_TEST_NO_DESCRIBE"], name: describes ? "libd.so" : "libs.so")
            try FileManager.default.moveItem(atPath: lib, toPath: folder + "/libnorm_tune.so")
            var e = try experiment(t, method: "norm_tune")
            e.pluginPaths = [folder]
            let plan = try e.plan()!, text = plan.render()
            XCTAssertEqual(
                text.contains("plugin norm_tune does not describe itself"), !describes, text)
            totals[describes] = plan.total
        }
        XCTAssertEqual(totals[false], full.total, "conservative: every parameter trained, as full finetuning")
        XCTAssertLessThan(totals[true]!, full.total)
    }

    /// Between the two totals, auto recomputes; the run gives exactly the numbers of keeping
    /// every activation (same kernels on the same inputs).
    func testAutoRecomputesOnlyWhenThatMakesTheRunFitWithTheSameResults() throws {
        let t = try TinyExperiment(self)
        var e = try experiment(t, method: "full")
        e.recompute = .off
        let kept = try e.plan()!
        e.recompute = .on
        let again = try e.plan()!
        XCTAssertLessThan(again.total, kept.total)
        e.recompute = .auto
        e.memoryLimit = (kept.total + again.total) / 2
        XCTAssertTrue(try e.plan()!.recompute)
        e.memoryLimit = kept.total * 2
        XCTAssertFalse(try e.plan()!.recompute)
        var runs: [[EpochFigures]] = []
        for mode in [MemoryPlan.Recompute.off, .on] {
            var r = try experiment(t, method: "full")
            r.recompute = mode
            runs.append(try r.run().stats)
        }
        XCTAssertEqual(runs[0].map(\.general), runs[1].map(\.general))
        XCTAssertEqual(runs[0].map(\.success), runs[1].map(\.success))
        XCTAssertNotEqual(runs[0].first!.general, runs[0].last!.general, "the run trained")
    }

    /// The plan's parameter and module lists are the loaded model's, for every decoder architecture.
    /// The hook methods' own tensors are counted, and their backward starts at the hooked block.
    func testThePlanCountsHookMethods() throws {
        let t = try TinyExperiment(self)
        let full = try experiment(t, method: "full").plan()!
        for method in ["grace", "loreft"] {
            let plan = try experiment(t, method: method).plan()!
            let text = plan.render()
            XCTAssertFalse(text.contains("not counted"), text)
            XCTAssertLessThan(plan.total, full.total, "\(method) trains no model tensor")
        }
        XCTAssertTrue(try experiment(t, method: "grace").plan()!.render().contains("GRACE's keys"))
    }

    func testThePlanCountsTheParametersTheModelHas() throws {
        for name in ["llama", "gpt2", "gpt_neox", "gptj", "gemma3", "qwen2", "mistral"] {
            let outline = try ModelStore.outline(Fixtures.folder + "/zoo/" + name)
            let recipe = try XCTUnwrap(outline.decoder, name)
            let model = try outline.load().model
            let planned = Dictionary(uniqueKeysWithValues: recipe.parameterSizes.map { ($0.name, $0.count) })
            let loaded = Dictionary(
                uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value.count) })
            XCTAssertEqual(planned, loaded, name)
            let modules = Set(recipe.linearModules.map(\.name)), real = Set(model.linears.map(\.name))
            XCTAssertEqual(modules, real, name)
        }
    }
}
