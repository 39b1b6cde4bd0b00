import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import Setting
@testable import Support

/// Every value from the command line or a data file is checked before work starts, with a
/// message naming the flag or the file and line; a signal ends any phase within two seconds.
final class CommandLineValueTests: XCTestCase {
    /// Runs the canonedit executable; returns its exit status and standard error.
    func canonedit(_ args: [String], cwd: String? = nil) throws -> (Int32, String) {
        let r = try runCanonedit(args, in: cwd)
        return (r.status, r.err)
    }

    func testBadFlagValuesAreUsageErrorsNamingTheFlag() throws {
        let model = Fixtures.folder + "/zoo/llama"
        let cases: [([String], String)] = [
            (["logits", "--model", model, "--text", "a", "--top=-5"], "--top must be at least 1"),
            (["generate", "--model", model, "--prompt", "a", "--temperature", "nan"], "--temperature must be"),
            (["corpus", "--model", model, "--documents=-3", "--out", "/tmp/x"], "--documents and --tokens"),
            (["select", "spec.yaml", "--seeds=-2"], "--seeds must be at least 1"),
            (["select", "spec.yaml", "--ball", "0"], "--ball must be a number between 0 and 1"),
            (["run", "c.yaml", "--plugin-path", "/nonexistent"], "--plugin-path /nonexistent: no such folder"),
            (["logits", "--model", model, "--text", "a", "--threads", "0"], "--threads must be 1…1024"),
            (["logits", "--model", model, "--text", "a", "--threads", "3000000000"], "--threads must be 1…1024"),
            (["run", "c.yaml", "--threads", "3000000000"], "--threads must be 1…1024"),
            (["run", "c.yaml", "--memory-limit", "9000000T"], "'9000000T' is invalid for '--memory-limit"),
            (["run", "c.yaml", "--memory-limit", "1e19"], "'1e19' is invalid for '--memory-limit"),
        ]
        for (args, fragment) in cases {
            let (status, err) = try canonedit(args)
            XCTAssertEqual(status, 64, "\(args): \(err)")
            XCTAssertTrue(err.contains(fragment), "\(args): \(err)")
        }
    }

    /// bench sizes past the model's context, or past what one pass may hold, are errors before
    /// any token is drawn (they aborted in allocation before).
    func testBenchSizesPastTheContextAreRefusedBeforeAllocating() throws {
        let model = Fixtures.folder + "/zoo/llama"
        for (b, t, fragment) in [
            ("100000", "100000", "--seq 100000 is longer than the model's context of 16"),
            ("2147483648", "2147483648", "longer than the model's context"),
            ("2000000", "16", "is more tokens than one pass may hold"),
        ] {
            let (status, err) = try canonedit(["bench", "--model", model, "--batch", b, "--seq", t])
            XCTAssertEqual(status, 1, err)
            XCTAssertTrue(err.contains(fragment), err)
        }
    }

    func testBadDataNamesTheFileAndLine() throws {
        let t = try TinyExperiment(self)
        let model = Fixtures.folder + "/zoo/llama"
        FileManager.default.createFile(atPath: t.dir + "/empty.jsonl", contents: Data())
        FileManager.default.createFile(
            atPath: t.dir + "/blank.jsonl", contents: Data(#"{"prefix": "", "suffix": ""}"#.utf8 + [10]))
        let (s1, e1) = try canonedit([
            "eval", "--model", model, "--task", "country_capital", "--data", t.dir + "/empty.jsonl",
        ])
        XCTAssertEqual(s1, 1)
        XCTAssertTrue(e1.contains("empty.jsonl: no records"), e1)
        let (s3, e3) = try canonedit(["general-loss", "--model", model, "--data", t.dir + "/empty.jsonl"])
        XCTAssertEqual(s3, 1)
        XCTAssertTrue(e3.contains("empty.jsonl: no records"), e3)
        let (s2, e2) = try canonedit([
            "eval", "--model", model, "--task", "country_capital", "--data", t.dir + "/blank.jsonl",
        ])
        XCTAssertEqual(s2, 1)
        XCTAssertTrue(e2.contains("blank.jsonl:1: field \"suffix\" is empty"), e2)
        // An example longer than the model's 64-token context.
        let long = String(repeating: "x", count: 80)
        try AtomicFile.write(Data(#"{"prefix": "\#(long)", "suffix": " y"}"#.utf8 + [10]), to: t.dir + "/train.jsonl")
        XCTAssertThrowsError(try t.run(t.config(method: "lora", lr: 0.01, epochs: 1, name: "long"))) {
            XCTAssertTrue(
                "\($0)".contains("train.jsonl:1: the example is 82 tokens, longer than the model's context of 64"),
                "\($0)")
        }
    }

    func testAModelConfigWithANegativeEpsilonIsRefused() throws {
        let dir = temporaryFolder(self) + "/model"
        try FileManager.default.copyItem(atPath: Fixtures.folder + "/zoo/llama", toPath: dir)
        let cfg = dir + "/config.json"
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cfg))) as! [String: Any]
        obj["rms_norm_eps"] = -1
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        XCTAssertThrowsError(try ModelStore.load(dir)) {
            XCTAssertTrue("\($0)".contains("normalisation epsilon -1.0 must be a small positive number"), "\($0)")
        }
    }

    func testSIGTERMEndsEveryPhaseWithinTwoSeconds() throws {
        // Sampling a huge corpus reaches no cancellation check: the grace period ends it.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: canoneditExecutable())
        p.arguments = [
            "corpus", "--model", Fixtures.folder + "/zoo/llama", "--documents", "100000000",
            "--tokens", "8", "--out", temporaryFolder(self) + "/c.jsonl", "--threads", "1",
        ]
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertTrue(p.isRunning)
        let sent = Date()
        p.terminate()
        p.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(sent), 2.8)
        XCTAssertEqual(p.terminationStatus, 128 + SIGTERM)
    }

    /// A run stopped by Ctrl-C or SIGTERM where it checks for them (between examples) exits with
    /// 128 + the signal, as documented, and a run leaves no lock files behind, stopped or finished.
    func testAStoppedRunExitsWithTheSignalsStatusAndRemovesItsLocks() throws {
        let t = try TinyExperiment(self)
        for sig in [SIGINT, SIGTERM] {
            let cfg = t.config(method: "lora", lr: 0.01, epochs: 400, name: "stop\(sig)")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: canoneditExecutable())
            p.arguments = ["run", cfg, "--threads", "1"]
            (p.standardError, p.standardOutput) = (FileHandle.nullDevice, FileHandle.nullDevice)
            try p.run()
            Thread.sleep(forTimeInterval: 2.0)
            XCTAssertTrue(p.isRunning)
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 128 + sig)
        }
        let done = try canonedit(
            ["run", t.config(method: "lora", lr: 0.01, epochs: 1, name: "done"), "--threads", "1"], cwd: t.dir)
        XCTAssertEqual(done.0, 0, done.1)
        let locks = try FileManager.default.contentsOfDirectory(atPath: t.dir).filter { $0.hasSuffix(".lock") }
        XCTAssertEqual(locks, [])
    }

    /// `benchmark --preset NAME` finds configs/benchmarks/NAME.yaml from any folder, and an
    /// unknown name lists the shipped ones; a spec and a preset together are a usage error.
    func testABenchmarkPresetIsFoundOrTheShippedOnesAreListed() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: canoneditExecutable()))
        let tmp = temporaryFolder(self)
        let (status, err) = try canonedit(["benchmark", "--preset", "nope"], cwd: tmp)
        XCTAssertEqual(status, 1, err)
        XCTAssertTrue(err.contains("no preset nope (shipped: ") && err.contains("smollm2-authors-quick"), err)
        let (both, usage) = try canonedit(["benchmark", "x.yaml", "--preset", "smollm2-authors"], cwd: tmp)
        XCTAssertEqual(both, 64, usage)
    }
}
