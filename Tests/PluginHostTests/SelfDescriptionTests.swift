import Engine
import Foundation
import PluginHost
import Support
import TestSupport
import XCTest

@testable import Setting

/// Plugins describe themselves (ABI 1.3): the host decides nothing by a plugin's id. What an
/// edit may change, what a run will hold and where sweeps draw the learning rate come from the
/// plugin's own `describe` and descriptor.
final class SelfDescriptionTests: XCTestCase {
    /// No decision under Sources/Host compares with, switches on or keys a table by the id of a
    /// shipped plugin: a third-party method gets what a shipped one gets.
    func testTheHostNamesNoShippedPlugin() throws {
        let ids = PluginRegistry.discover().plugins.map(\.id)
        XCTAssertGreaterThanOrEqual(ids.count, 7, "the shipped plugins are built: \(ids)")
        let root = repositoryRoot + "/Sources/Host"
        let files = FileManager.default.enumerator(atPath: root)!.compactMap { $0 as? String }.filter {
            $0.hasSuffix(".swift")
        }
        XCTAssertGreaterThan(files.count, 100)
        var found: [String] = []
        for f in files {
            let lines = try String(contentsOfFile: root + "/" + f, encoding: .utf8).split(separator: "\n")
            for (n, line) in lines.enumerated() where !line.contains("commandName:") {
                for id in ids {
                    let q = "\"\(id)\""
                    let decisions = ["== \(q)", "!= \(q)", "case \(q)", "\(q):", "[\(q)]", "?? \(q)", "method: \(q)"]
                    if decisions.contains(where: { line.contains($0) }) { found.append("\(f):\(n + 1): \(line)") }
                }
            }
        }
        XCTAssertEqual(found, [], "the host decides by plugin id")
    }

    /// A tiny Llama's outline, read from its files as a memory plan reads it.
    func tinyOutline() throws -> OutlineModel {
        OutlineModel(recipe: try XCTUnwrap(try ModelStore.outline(try TinyExperiment(self).dir + "/model").decoder))
    }

    /// What an edit may change comes from the plugin: MEMIT's edits change MLP output
    /// projections, full finetuning's anything, LoRA's nothing but folded weights.
    func testWhatAnEditMayChangeIsThePluginsAnswer() throws {
        let model = try TinyModels.llama(seed: 8)
        let policy = EditPolicy.methodChanges(model: model)
        func info(_ method: String, sequential: Bool = false) -> EditArtifact.Info {
            EditArtifact.Info(
                method: method, base_model: "tiny", base_identity: "x", sequential_steps: sequential ? 3 : nil)
        }
        let down = "model.layers.1.mlp.down_proj.weight", embed = "model.embed_tokens.weight"
        let q = "model.layers.0.self_attn.q_proj.weight"
        XCTAssertTrue(try policy(info("memit"))(down))
        XCTAssertFalse(try policy(info("memit"))(embed))
        XCTAssertTrue(try policy(info("full"))(embed))
        XCTAssertFalse(try policy(info("lora"))(q))
        XCTAssertTrue(try policy(info("lora", sequential: true))(q), "sequential LoRA folds into the weights")
        XCTAssertFalse(try policy(info("lora", sequential: true))(embed))
        XCTAssertFalse(try policy(info("grace"))(down), "a hook method changes no model tensor")
        XCTAssertFalse(try policy(info("no_such_method"))(down))
    }

    /// A C plugin written against the header alone describes itself; without `describe` it is
    /// planned conservatively and its edits may change nothing untrusted.
    func testACPluginDescribesItselfOrIsPlannedConservatively() throws {
        let described = try PluginLibrary(path: try buildCPlugin(self))
        let silent = try PluginLibrary(path: try buildCPlugin(self, defines: ["CE_TEST_NO_DESCRIBE"], name: "libnd.so"))
        XCTAssertTrue(described.describes)
        XCTAssertFalse(silent.describes)
        let outline = try tinyOutline(), run = OutlineRun(examples: 2, longestExample: 9, sequential: false)
        let d = try described.describe(
            model: outline, options: try described.options([:], source: "test"), run: run)
        let norm = outline.parameters.first { $0.name == "model.norm.weight" }!
        XCTAssertTrue(d.described)
        XCTAssertEqual(d.trainedElements, norm.count)
        XCTAssertEqual(d.lowestBlock, outline.layers, "the final norm is above every block")
        XCTAssertEqual(d.held.map(\.bytes), [norm.count * 4])
        XCTAssertTrue(d.allowsChanging("model.norm.weight"))
        XCTAssertFalse(d.allowsChanging("model.embed_tokens.weight"))
        let c = try silent.describe(model: outline, options: try silent.options([:], source: "test"), run: run)
        XCTAssertFalse(c.described)
        XCTAssertEqual(c.trainedElements, outline.parameters.reduce(0) { $0 + $1.count })
        XCTAssertEqual(c.lowestBlock, -1)
        // A failing describe names the plugin and says why.
        let bad = try described.options(["parameter": .string("model.nothing")], source: "test")
        XCTAssertThrowsError(try described.describe(model: outline, options: bad, run: run)) {
            XCTAssertTrue("\($0)".contains("norm_tune 1.0.0 failed in describe: the model has no parameter"), "\($0)")
        }
    }

    /// The learning-rate range sweeps draw from is the plugin's (the paper's for the shipped ones).
    func testTheLearningRateSweepIsDeclaredByThePlugin() throws {
        let lora = try PluginRegistry.find("lora"), full = try PluginRegistry.find("full")
        XCTAssertEqual(lora.learningRateSweep!.lowerBound, -6.5, accuracy: 1e-12)
        XCTAssertEqual(lora.learningRateSweep!.upperBound, -2, accuracy: 1e-12)
        XCTAssertEqual(full.learningRateSweep!.lowerBound, -8.5, accuracy: 1e-12)
        XCTAssertNil(try PluginLibrary(path: try buildCPlugin(self)).learningRateSweep)
        XCTAssertTrue(lora.schema.first { $0.name == "target_modules" }!.clearedInSweeps)
    }

    /// The Rust example of the guide builds with rustc alone, its struct sizes agree with the
    /// header's (its const asserts), it describes itself and passes `plugins check`.
    func testTheRustExampleBuildsDescribesItselfAndPassesTheCheck() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/rustc")
            || ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").contains(where: {
                FileManager.default.isExecutableFile(atPath: "\($0)/rustc")
            }) == true
        else { throw XCTSkip("rustc is not installed") }
        let out = temporaryFolder(self) + "/libsign_sgd.so"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "rustc", "--edition", "2021", "-O", "--crate-type", "cdylib",
            repositoryRoot + "/Examples/rust-plugin/sign_sgd.rs", "-o", out,
        ]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "rustc failed")
        let lib = try PluginLibrary(path: out)
        XCTAssertEqual(lib.id, "sign_sgd")
        XCTAssertTrue(lib.describes)
        XCTAssertEqual(lib.learningRateSweep!.lowerBound, -5, accuracy: 1e-12)
        let report = try PluginCheck.run(lib, steps: 3, learningRate: 1e-2)
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(report.described_values, report.trained_values)
        XCTAssertGreaterThan(report.trained_values, 0)
    }

    /// `plugins check` compares what a plugin describes with what its prepare selects.
    func testPluginsCheckComparesTheDescriptionWithPrepare() throws {
        for id in ["lora", "full", "condft", "grace", "loreft"] {
            let report = try PluginCheck.run(try PluginRegistry.find(id))
            XCTAssertTrue(report.describes, id)
            XCTAssertGreaterThanOrEqual(report.described_values, report.trained_values, id)
            XCTAssertFalse(report.problems.contains { $0.contains("describe reported") }, "\(id): \(report.problems)")
        }
    }
}
