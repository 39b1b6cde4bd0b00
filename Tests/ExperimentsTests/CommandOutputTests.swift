import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import Setting
@testable import Support

/// What the README says about output holds: JSON on stdout (or a table/Markdown/text where it
/// says so, JSON with --json), progress on stderr, the documented exit codes, an EXAMPLES
/// section in every command's help, and --version.
final class CommandOutputTests: XCTestCase {
    func canonedit(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try runCanonedit(args) }

    func isJSON(_ s: String) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(s.utf8), options: [.fragmentsAllowed])) != nil
    }

    func testModelCommandsPrintJSONOnStdout() throws {
        let t = try TinyExperiment(self)
        let m = ["--model", t.dir + "/model", "--threads", "1"]
        FileManager.default.createFile(atPath: t.dir + "/text.txt", contents: Data("some text here".utf8))
        for args in [
            ["logits", "--text", "Cap of"] + m, ["score", "--prefix", "Cap of", "--suffix", " Ab"] + m,
            ["nll", "--file", t.dir + "/text.txt"] + m, ["generate", "--prompt", "Cap", "--max-tokens", "3"] + m,
            ["eval", "--task", "country_capital", "--data", t.dir + "/eval.jsonl"] + m,
            ["general-loss", "--data", t.dir + "/general.jsonl"] + m,
        ] {
            let r = try canonedit(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
            XCTAssertTrue(isJSON(r.out), "\(args[0]) printed: \(r.out)")
        }
    }

    func testRunPrintsATableOrJSONAndLogsSamples() throws {
        let t = try TinyExperiment(self)
        let table = try canonedit(["run", t.config(method: "lora", lr: 0.05, epochs: 2, name: "a"), "--threads", "1"])
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssertTrue(table.out.contains("ball ε=1e-4"), table.out)
        XCTAssertTrue(table.err.contains("elapsed, about"), "progress with time left goes to stderr")
        let json = try canonedit(
            [
                "run", t.config(method: "lora", lr: 0.05, epochs: 2, name: "b"), "--json", "--log-samples", "--threads",
                "1",
            ])
        XCTAssertEqual(json.status, 0, json.err)
        let obj = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        XCTAssertEqual(obj["schema_version"] as? String, "canonedit.results/1")
        XCTAssertTrue((obj["canonedit_version"] as? String)?.hasPrefix("canonedit ") == true, "\(obj)")
        XCTAssertEqual(obj["model_sha256"] as? String, try ModelDigest.sha256(t.dir + "/model"))
        XCTAssertNotNil((obj["test"] as? [String: Any])?["0.0001"])
        XCTAssertTrue(json.err.contains("ball 1e-4 (epoch"), json.err)
        XCTAssertTrue(json.err.contains("evaluation examples; samples in"), json.err)
        let samples = try RunRecorder.readSamples(t.dir + "/b.samples-0.0001.jsonl")
        XCTAssertEqual(samples.filter { $0.set == "eval" }.count, 4)
        XCTAssertEqual(samples.filter { $0.set == "hard_negative" }.count, 1)
        XCTAssertTrue(samples.allSatisfy { $0.schema_version == "canonedit.results/1" })
        let listed = try canonedit(
            [
                "report", "--samples", t.dir + "/b.log.jsonl.samples/epoch-0.jsonl", "--samples",
                t.dir + "/b.samples-0.0001.jsonl",
            ])
        XCTAssertEqual(listed.status, 0, listed.err)
        XCTAssertTrue(listed.out.hasPrefix("fixed "), listed.out)

        // Single runs side by side: one row per results file, the numbers the files hold.
        let both = try canonedit(["report", t.dir + "/a.results.json", t.dir + "/b.results.json"])
        XCTAssertEqual(both.status, 0, both.err)
        let rows = both.out.split(separator: "\n").filter { $0.hasPrefix("| a ") || $0.hasPrefix("| b ") }
        XCTAssertEqual(rows.count, 2, both.out)
        let b = try RunResults.read(t.dir + "/b.results.json")
        let cell = String(format: "%.1f (%d)", b.at(Ball(1e-4))!.success * 100, b.at(Ball(1e-4))!.index!)
        XCTAssertTrue(rows[1].contains(cell), "\(rows[1]) holds \(cell)")
        let folder = try canonedit(["report", t.dir, "--json"])
        XCTAssertEqual(folder.status, 0, folder.err)
        let doc = try JSONSerialization.jsonObject(with: Data(folder.out.utf8)) as! [String: Any]
        XCTAssertEqual((doc["rows"] as? [Any])?.count, 2, "every *.results.json in the folder")
    }

    func testModelCommandsApplyEditsAndRefuseOrAddTwoThatChangeTheSameTensors() throws {
        let t = try TinyExperiment(self)
        let run = try canonedit(["run", t.config(method: "lora", lr: 0.05, epochs: 2, name: "e"), "--threads", "1"])
        XCTAssertEqual(run.status, 0, run.err)
        let edit = try XCTUnwrap(
            Ball.paper.map { t.dir + "/e.edit-\($0.key).safetensors" }.first {
                FileManager.default.fileExists(atPath: $0)
            })
        let args = [
            "score", "--model", t.dir + "/model", "--prefix", "Cap of Ab is", "--suffix", " Xy", "--threads", "1",
        ]
        let plain = try canonedit(args), edited = try canonedit(args + ["--edit", edit])
        XCTAssertEqual(edited.status, 0, edited.err)
        XCTAssertNotEqual(plain.out, edited.out, "the edit changes the score")
        XCTAssertTrue(edited.err.contains("edit \(edit): lora"), edited.err)
        let twice = try canonedit(args + ["--edit", edit, "--edit", edit])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.err.contains("both change model.layers"), twice.err)
        let added = try canonedit(args + ["--edit", edit, "--edit", edit, "--compose", "add"])
        XCTAssertEqual(added.status, 0, added.err)
        XCTAssertNotEqual(added.out, edited.out, "the change counted twice")
    }

    func testExitCodesAreTheDocumentedOnes() throws {
        let t = try TinyExperiment(self)
        XCTAssertEqual(try canonedit(["run", t.dir + "/missing.yaml"]).status, 1, "an error")
        XCTAssertEqual(try canonedit(["logits", "--top", "0", "--text", "a"]).status, 64, "a usage error")
        let lib = try buildCPlugin(self, defines: ["CE_TEST_FAIL_UPDATE"])
        let failed = try canonedit(
            [
                "run", t.config(method: "norm_tune", lr: 0.1, name: "fails"), "--plugin-path",
                (lib as NSString).deletingLastPathComponent, "--threads", "1",
            ])
        XCTAssertEqual(failed.status, 2, "a run that stopped early: \(failed.err)")
    }

    func testEveryCommandsHelpHasExamplesAndVersionWorks() throws {
        let commands = [
            ["run"], ["sweep"], ["select"], ["report"], ["ensemble"], ["senses", "show"], ["companion", "train"],
            ["companion", "check"], ["eval"], ["general-loss"], ["corpus"], ["logits"], ["score"], ["nll"],
            ["generate"], ["bench"], ["export"], ["import"], ["plugins", "list"], ["plugins", "check"], [],
        ]
        for c in commands {
            let r = try canonedit(["help"] + c)
            XCTAssertTrue((r.out + r.err).contains("EXAMPLES:\n  canonedit"), "help \(c)")
        }
        let root = try canonedit(["--help"])
        XCTAssertTrue(root.out.contains("EXIT STATUS: 0 done; 1 an error"), root.out)
        let v = try canonedit(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.out.hasPrefix("canonedit 0.3.0 (commit ") && v.out.contains("plugin ABI 1.4"), v.out)
    }
}
