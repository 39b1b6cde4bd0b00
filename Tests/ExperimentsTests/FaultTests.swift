import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// Fault injection: a run killed with SIGKILL resumes to the same results, and a full disk
/// gives a clear error while earlier results stay intact.
final class FaultTests: XCTestCase {
    func testKillNineThenResumeEqualsAnUninterruptedRun() throws {
        try killAndResume(method: "lora", lr: 0.02)
    }

    /// A hook-based method's own state (GRACE's codebook) and tensors come back from the
    /// checkpoint: the resumed run ends with the same results and the same saved edit, bit for bit.
    func testKillNineThenResumeKeepsAHookMethodsState() throws {
        let t = try killAndResume(
            method: "grace", lr: 0.5, methodBlock: "  method: {grace_layer: 0, grace_epsilon: 1.0}")
        for ball in Ball.paper {
            let a = try EditArtifact.read(RunRecorder.editPath(resultsPath: t.dir + "/whole.results.json", ball: ball))
            let b = try EditArtifact.read(RunRecorder.editPath(resultsPath: t.dir + "/killed.results.json", ball: ball))
            XCTAssertNotNil(a.0.method_state)
            XCTAssertEqual(a.0.method_state, b.0.method_state, "codebook of ball \(ball.key)")
            XCTAssertEqual(a.0.epoch, b.0.epoch)
            let name = try XCTUnwrap(a.0.method_tensors?.first)
            func values(_ f: SafetensorsFile) throws -> [Float] {
                let v = Tensor(try XCTUnwrap(f.shape(of: name)))
                try f.load(name, into: v)
                return v.array
            }
            XCTAssertEqual(try values(a.1), try values(b.1), "values of ball \(ball.key)")
        }
    }

    @discardableResult
    func killAndResume(method: String, lr: Double, methodBlock: String = "") throws -> TinyExperiment {
        let exe = canoneditExecutable()
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: exe), "needs the canonedit executable beside the tests")
        let t = try TinyExperiment(self)
        let epochs = 40
        let whole = try t.run(
            t.config(method: method, lr: lr, epochs: epochs, name: "whole", methodBlock: methodBlock))
        let cfg = t.config(method: method, lr: lr, epochs: epochs, name: "killed", methodBlock: methodBlock)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["run", cfg, "--threads", "1"]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let log = t.dir + "/killed.log.jsonl"
        let deadline = Date().addingTimeInterval(60)
        while (try? RunRecorder.readLog(log).count) ?? 0 < 4, Date() < deadline, p.isRunning { usleep(2000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = try RunRecorder.readLog(log).count
        XCTAssertGreaterThanOrEqual(before, 4)
        XCTAssertLessThan(before, epochs + 1, "killed before the end")
        let resumed = try t.run(cfg)
        XCTAssertEqual(resumed.stats.count, whole.stats.count)
        for (a, b) in zip(resumed.stats, whole.stats) {
            XCTAssertEqual(a.general, b.general, accuracy: 1e-6)
            XCTAssertEqual(a.train_loss!, b.train_loss!, accuracy: 1e-6)
        }
        return t
    }

    func testAFullDiskIsAClearErrorAndEarlierResultsSurvive() throws {
        try XCTSkipUnless(getuid() == 0, "mounting a small tmpfs needs root")
        let t = try TinyExperiment(self)
        let disk = t.dir + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        mount.arguments = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", disk]
        try mount.run(); mount.waitUntilExit()
        try XCTSkipUnless(mount.terminationStatus == 0, "cannot mount tmpfs here")
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            u.arguments = ["umount", disk]
            try? u.run(); u.waitUntilExit()
        }
        var text = try String(contentsOfFile: t.config(method: "lora", lr: 0.02, epochs: 3, name: "x"), encoding: .utf8)
        text = text.replacingOccurrences(of: "logfile: \(t.dir)/x.log.jsonl", with: "logfile: \(disk)/x.log.jsonl")
        let cfg = t.dir + "/full.yaml"
        FileManager.default.createFile(atPath: cfg, contents: Data(text.utf8))
        var e = try Experiment(configPath: cfg)
        // Once epoch 0 is on disk, fill the disk.
        e.progress = { line in
            if line.hasPrefix("epoch 1/"), !FileManager.default.fileExists(atPath: disk + "/filler") {
                let h =
                    FileHandle(forWritingAtPath: disk + "/filler")
                    ?? {
                        FileManager.default.createFile(atPath: disk + "/filler", contents: nil);
                        return FileHandle(forWritingAtPath: disk + "/filler")!
                    }()
                while (try? h.write(contentsOf: Data(count: 4096))) != nil {}
                try? h.close()
            }
        }
        XCTAssertThrowsError(try e.run()) {
            XCTAssertTrue("\($0)".contains("No space left") && "\($0)".contains(disk), "\($0)")
        }
        let kept = try RunRecorder.readLog(disk + "/x.log.jsonl")
        XCTAssertEqual(kept.count, 1, "epoch 0's record is intact")
        XCTAssertNoThrow(try SafetensorsFile(path: disk + "/x.log.jsonl.ckpt.safetensors"), "the checkpoint is intact")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: disk).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no half-written temporary files are left")
    }
}

/// Faults during sweeps: a killed sweep resumes to the same results, and a plugin that
/// segfaults costs only its own runs.
final class SweepFaultTests: XCTestCase {
    func spec(_ t: TinyExperiment, name: String, bases: [String]) -> String {
        let path = t.dir + "/\(name).yaml"
        FileManager.default.createFile(
            atPath: path,
            contents: Data(
                """
                name: \(name)
                base_configs: [\(bases.joined(separator: ", "))]
                runs: 3
                seed: 9
                output: \(t.dir)/\(name)
                learning_rate: {lora: [-3, -1.5]}
                """.utf8))
        return path
    }

    func testKilledSweepResumesToTheSameResults() throws {
        let exe = canoneditExecutable()
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: exe), "needs the canonedit executable beside the tests")
        let t = try TinyExperiment(self)
        let base = t.config(method: "lora", lr: 0.01, epochs: 60, name: "base")
        let reference = try SweepSpec.load(spec(t, name: "whole", bases: [base]))
        XCTAssertEqual(
            try SweepRunner(runs: try SweepPlanner.plan(reference), executable: exe, workers: 1).run().succeeded, 3)
        // the same sweep in its own session, killed with its children mid-way
        let cut = spec(t, name: "cut", bases: [base])
        // SIGKILL the sweep and every run it started, as a crash of the machine would.
        func killTree(_ root: Int32) {
            var children: [Int32: [Int32]] = [:]
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(entry),
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.count > 2, let ppid = Int32(fields[1]) { children[ppid, default: []].append(pid) }
            }
            var stack = [root], all: [Int32] = []
            while let x = stack.popLast() { all.append(x); stack += children[x] ?? [] }
            for pid in all { kill(pid, SIGKILL) }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["sweep", cut, "--workers", "1"]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let second = t.dir + "/cut/results/" + (t.dir as NSString).lastPathComponent + "-lora-1.log.jsonl"
        let deadline = Date().addingTimeInterval(90)
        while (try? RunRecorder.readLog(second).count) ?? 0 < 10, Date() < deadline { usleep(5000) }
        killTree(p.processIdentifier)
        p.waitUntilExit()
        let plan = try SweepPlanner.plan(try SweepSpec.load(cut))
        let finishedBefore = plan.filter(SweepRunner.finished).count
        XCTAssertLessThan(
            finishedBefore, 3,
            "killed before the end: \((try? FileManager.default.contentsOfDirectory(atPath: t.dir + "/cut/results")) ?? []) watched \(second)"
        )
        let summary = try SweepRunner(runs: plan, executable: exe, workers: 1).run()
        XCTAssertEqual(summary.skipped, finishedBefore)
        XCTAssertEqual(summary.failed.count, 0)
        let whole = try SweepPlanner.plan(reference)
        for (a, b) in zip(plan, whole) {
            let la = try RunRecorder.readLog(a.results.replacingOccurrences(of: ".results.json", with: ".log.jsonl"))
            let lb = try RunRecorder.readLog(b.results.replacingOccurrences(of: ".results.json", with: ".log.jsonl"))
            XCTAssertEqual(la.count, lb.count)
            for (x, y) in zip(la, lb) { XCTAssertEqual(x.general, y.general, accuracy: 1e-6) }
        }
    }

    func testASegfaultingPluginCostsOnlyItsRuns() throws {
        let exe = canoneditExecutable()
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: exe), "needs the canonedit executable beside the tests")
        let t = try TinyExperiment(self)
        let lib = try buildCPlugin(self, defines: ["CE_TEST_SEGFAULT"])
        let crashing = t.config(method: "norm_tune", lr: 0.01, epochs: 2, name: "crash")
        let good = t.config(method: "lora", lr: 0.01, epochs: 2, name: "good")
        let s = try SweepSpec.load(spec(t, name: "mixed", bases: [crashing, good]))
        let folder = (lib as NSString).deletingLastPathComponent
        let runs = try SweepPlanner.plan(s, pluginPaths: [folder])
        let runner = SweepRunner(runs: runs, executable: exe, workers: 2, extraArguments: ["--plugin-path", folder])
        let summary = try runner.run()
        XCTAssertEqual(summary.succeeded, 3, "the LoRA runs finish")
        XCTAssertEqual(summary.failed.count, 3)
        for f in summary.failed {
            XCTAssertEqual(f.method, "norm_tune")
            XCTAssertTrue(f.reason.contains("crashed") && f.reason.contains("norm_tune"), f.reason)
            XCTAssertTrue(f.config.contains("norm_tune"))
        }
    }
}
