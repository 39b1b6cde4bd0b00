import PluginAPI
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

final class PluginTests: XCTestCase {
    func testShippedPluginsAreFoundAndPassTheCheck() throws {
        let (plugins, _) = PluginRegistry.discover()
        for id in ["full", "lora", "grace", "loreft"] {
            let p = try XCTUnwrap(plugins.first { $0.id == id }, "plugin \(id) not built next to the tests")
            XCTAssertEqual(p.apiVersion, "\(CE_API_MAJOR).\(CE_API_MINOR)")
            let report = try PluginCheck.run(p)
            XCTAssertTrue(report.ok, "\(id): \(report.problems)")
            XCTAssertGreaterThan(report.trained_tensors, 0)
        }
    }

    func testCPluginLoadsAndEditsThroughTheSamePath() throws {
        let lib = try PluginLibrary(path: try buildCPlugin(self))
        XCTAssertEqual(lib.id, "norm_tune")
        XCTAssertEqual(lib.schema.map(\.name), ["momentum", "parameter"])
        let report = try PluginCheck.run(lib, steps: 5, learningRate: 0.1)
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(report.trained_tensors, 1)
        XCTAssertLessThan(try XCTUnwrap(report.loss_after), report.loss_before)
    }

    func testRefusesWrongABIAndNonPlugins() throws {
        XCTAssertThrowsError(try PluginLibrary(path: try buildCPlugin(self, defines: ["CE_TEST_WRONG_ABI"]))) {
            XCTAssertTrue(
                "\($0)".contains(
                    "plugin ABI 99.\(CE_API_MINOR) does not match host ABI \(CE_API_MAJOR).\(CE_API_MINOR)"), "\($0)")
        }
        // a shared library that is not a plugin
        let dir = temporaryFolder(self)
        FileManager.default.createFile(atPath: dir + "/x.c", contents: Data("int f(void) { return 1; }\n".utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["cc", "-shared", "-fPIC", dir + "/x.c", "-o", dir + "/libx.so"]
        try p.run(); p.waitUntilExit()
        XCTAssertThrowsError(try PluginLibrary(path: dir + "/libx.so")) {
            XCTAssertTrue("\($0)".contains("not a canonedit plugin"), "\($0)")
        }
        // not a shared library at all
        FileManager.default.createFile(atPath: dir + "/libjunk.so", contents: Data("junk".utf8))
        XCTAssertThrowsError(try PluginLibrary(path: dir + "/libjunk.so")) {
            XCTAssertTrue("\($0)".contains("cannot load"), "\($0)")
        }
        // discovery passes over them and says why
        let (_, skipped) = PluginRegistry.discover(extra: [dir])
        XCTAssertTrue(skipped.contains { $0.contains("libx.so") })
    }

    /// One id in two libraries is refused by name, with both paths, instead of the first folder
    /// silently winning.
    func testAPluginIdInTwoLibrariesIsRefused() throws {
        let a = try buildProbePlugin(self), b = try buildProbePlugin(self)
        let folders = [(a as NSString).deletingLastPathComponent, (b as NSString).deletingLastPathComponent]
        XCTAssertNoThrow(try PluginRegistry.find("probe", extra: [folders[0]]))
        XCTAssertThrowsError(try PluginRegistry.find("probe", extra: folders)) {
            XCTAssertTrue("\($0)".contains("plugin id probe is in more than one library: \(a), \(b)"), "\($0)")
        }
    }

    /// A plugin whose prepare fails still gets its report on stdout (ok false, the failure named).
    func testPluginsCheckReportsAFailingPrepareAsJSON() throws {
        let lib = try buildProbePlugin(self, defines: ["PROBE_FAIL_PREPARE"])
        let p = Process()
        p.executableURL = URL(fileURLWithPath: canoneditExecutable())
        p.arguments = ["plugins", "check", lib]
        let out = Pipe()
        (p.standardOutput, p.standardError) = (out, FileHandle.nullDevice)
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        let report = try JSONDecoder().decode(PluginCheck.Report.self, from: data)
        XCTAssertFalse(report.ok)
        XCTAssertNil(report.loss_after)
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("prepare failed") }, "\(report.problems)")
    }

    func testOptionsAreValidatedAgainstTheSchema() throws {
        let lora = try PluginRegistry.find("lora")
        XCTAssertThrowsError(try lora.options(["lora_rank": .int(0)], source: "c.yaml")) {
            XCTAssertTrue("\($0)".contains("lora_rank = 0 is outside [1.0, 4096.0]"))
        }
        XCTAssertThrowsError(try lora.options(["lora_rnk": .int(4)], source: "c.yaml")) {
            XCTAssertTrue("\($0)".contains("no hyperparameter lora_rnk"))
        }
        XCTAssertThrowsError(try lora.options(["lora_rank": .double(2.5)], source: "c.yaml")) {
            XCTAssertTrue("\($0)".contains("whole number"))
        }
        let o = try lora.options(["lora_rank": .int(4), "target_modules": .string("x")], source: "c.yaml")
        XCTAssertEqual(o["lora_rank"], .number(4))
        XCTAssertEqual(o["lora_alpha"], .number(8), "defaults are filled in")
    }

    func testAFailingPluginEndsTheRunWithTheErrorRecorded() throws {
        let t = try TinyExperiment(self)
        for (define, fragment) in [
            ("CE_TEST_FAIL_UPDATE", "always fails in update"), ("CE_TEST_NAN_UPDATE", "non-finite"),
        ] {
            let lib = try buildCPlugin(self, defines: [define])
            let cfg = t.config(method: "norm_tune", lr: 0.1, name: define)
            let outcome = try t.run(cfg, pluginPaths: [(lib as NSString).deletingLastPathComponent])
            XCTAssertEqual(outcome.stats.count, 1, "only the unedited epoch was good")
            XCTAssertTrue(outcome.error?.contains(fragment) == true, "\(String(describing: outcome.error))")
            let results =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: t.dir + "/\(define).results.json"))) as! [String: Any]
            XCTAssertTrue((results["error"] as? String)?.contains(fragment) == true)
        }
        // and the host goes on to run a good plugin afterwards
        let ok = try t.run(t.config(method: "lora", lr: 0.05, epochs: 1, name: "after"))
        XCTAssertNil(ok.error)
    }
}
