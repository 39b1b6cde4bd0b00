import Foundation
import TestSupport
import XCTest

@testable import Support

/// Where a config's relative paths lead: beside the config, then the working folder, then the
/// checkout (`--root DIR` alone for the authors' layout); outputs named after the config file;
/// a finished run is not started over without --overwrite.
final class ConfigPathTests: XCTestCase {
    func canonedit(_ args: [String], in folder: String) throws -> (status: Int32, out: String, err: String) {
        try runCanonedit(args + ["--threads", "1"], in: folder)
    }

    func folder(_ path: String) -> String {
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A tiny experiment's config with every path relative, written to `configFolder/name`, its
    /// data beside it under `data/`.
    func relativeConfig(_ t: TinyExperiment, in configFolder: String, name: String) throws -> String {
        let data = folder(configFolder + "/data")
        for f in ["train", "eval", "general", "kl", "hn"] {
            try FileManager.default.copyItem(atPath: "\(t.dir)/\(f).jsonl", toPath: "\(data)/\(f).jsonl")
        }
        var text = try String(contentsOfFile: t.config(method: "lora", lr: 0.05, epochs: 1), encoding: .utf8)
        text = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("logfile:") && !$0.hasPrefix("resultsfile:") }.joined(separator: "\n")
        text = text.replacingOccurrences(of: t.dir + "/model", with: "model")
            .replacingOccurrences(of: t.dir + "/", with: "data/")
        try FileManager.default.copyItem(atPath: t.dir + "/model", toPath: configFolder + "/model")
        let path = configFolder + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testACopiedConfigRunsFromAThirdFolderAndWritesOutputsNamedAfterTheCopy() throws {
        let t = try TinyExperiment(self)
        let config = try relativeConfig(t, in: folder(t.dir + "/copy"), name: "lora2.yaml")
        let third = folder(t.dir + "/elsewhere")
        let first = try canonedit(["run", config], in: third)
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: third + "/runs/lora2.results.json"), first.err)
        let results = try Data(contentsOf: URL(fileURLWithPath: third + "/runs/lora2.results.json"))

        let again = try canonedit(["run", config], in: third)
        XCTAssertNotEqual(again.status, 0, "a finished run is not started over silently")
        XCTAssertTrue(again.err.contains("--overwrite"), again.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: third + "/runs/lora2.results.json")), results)
        let over = try canonedit(["run", config, "--overwrite"], in: third)
        XCTAssertEqual(over.status, 0, over.err)
    }

    func testACopiedBuiltInConfigFindsTheBuiltInDataFromAnyFolder() throws {
        guard let checkout = HostPaths.checkout else { throw XCTSkip("no checkout above the test bundle") }
        let dir = temporaryFolder(self)
        let copy = folder(dir + "/a") + "/lora2.yaml"
        try FileManager.default.copyItem(
            atPath: checkout + "/configs/builtin/smollm2-country_capital-lora.yaml", toPath: copy)
        let plan = try canonedit(["run", copy, "--plan"], in: folder(dir + "/b"))
        XCTAssertEqual(plan.status, 0, plan.err)
    }

    func testAMissingInputNamesTheConfigTheFieldAndTheFoldersLookedIn() throws {
        let t = try TinyExperiment(self)
        let config = try relativeConfig(t, in: folder(t.dir + "/copy"), name: "x.yaml")
        try FileManager.default.removeItem(atPath: t.dir + "/copy/data/eval.jsonl")
        let r = try canonedit(["run", config, "--plan"], in: folder(t.dir + "/third"))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("validation.intervention_eval_path: data/eval.jsonl: no such file"), r.err)
        XCTAssertTrue(r.err.contains(t.dir + "/copy"), "names the config's folder: \(r.err)")
        XCTAssertTrue(r.err.contains("the working folder"), r.err)
    }

    func testRootPutsInputsAndOutputsUnderOneFolder() throws {
        let t = try TinyExperiment(self)
        let root = folder(t.dir + "/repo")
        _ = try relativeConfig(t, in: root, name: "unused.yaml")
        var text = try String(contentsOfFile: root + "/unused.yaml", encoding: .utf8)
        text = "logfile: out/r.log.jsonl\nresultsfile: out/r.results.json\n" + text
        let config = folder(root + "/configs/task") + "/r.yaml"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let third = folder(t.dir + "/third")
        let without = try canonedit(["run", config, "--plan"], in: third)
        XCTAssertNotEqual(without.status, 0, "the authors' layout needs --root: \(without.err)")
        let with = try canonedit(["run", config, "--root", root], in: third)
        XCTAssertEqual(with.status, 0, with.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/out/r.results.json"), with.err)
    }

    /// A logfile or resultsfile that names an input or the other output is refused before anything
    /// is written, and the input is left as it was.
    func testOutputsThatNameInputsAreRefused() throws {
        let t = try TinyExperiment(self)
        let train = try Data(contentsOf: URL(fileURLWithPath: t.dir + "/train.jsonl"))
        for (top, message) in [
            ("resultsfile: \(t.dir)/train.jsonl", "is config key training.dataset_path"),
            ("logfile: \(t.dir)/same.json\nresultsfile: \(t.dir)/same.json", "logfile and resultsfile are one file"),
            ("resultsfile: \(t.dir)/model/config.json", "is a file of the model"),
        ] {
            var text = try String(
                contentsOfFile: t.config(method: "lora", lr: 0.01, epochs: 1, name: "o"), encoding: .utf8)
            text = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("logfile:") && !$0.hasPrefix("resultsfile:") }.joined(separator: "\n")
            try (top + "\n" + text).write(toFile: t.dir + "/o.yaml", atomically: true, encoding: .utf8)
            let r = try runCanonedit(["run", t.dir + "/o.yaml", "--threads", "1"])
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertTrue(r.err.contains(message), r.err)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: t.dir + "/train.jsonl")), train)
    }
}
