import XCTest
@testable import HostCore

/// Fault injection: a run killed with SIGKILL resumes to the same results, and a full disk
/// gives a clear error while earlier results stay intact.
final class FaultTests: XCTestCase {
    func executable() -> String {
        URL(fileURLWithPath: (try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))).deletingLastPathComponent().path + "/canonedit"
    }

    func testKillNineThenResumeEqualsAnUninterruptedRun() throws {
        let exe = executable()
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: exe), "needs the canonedit executable beside the tests")
        let t = try TinyExperiment(self)
        let epochs = 40
        let whole = try t.run(t.config(method: "lora", lr: 0.02, epochs: epochs, name: "whole"))
        let cfg = t.config(method: "lora", lr: 0.02, epochs: epochs, name: "killed")
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
                let h = FileHandle(forWritingAtPath: disk + "/filler") ?? { FileManager.default.createFile(atPath: disk + "/filler", contents: nil); return FileHandle(forWritingAtPath: disk + "/filler")! }()
                while (try? h.write(contentsOf: Data(count: 4096))) != nil {}
                try? h.close()
            }
        }
        XCTAssertThrowsError(try e.run()) { XCTAssertTrue("\($0)".contains("No space left") && "\($0)".contains(disk), "\($0)") }
        let kept = try RunRecorder.readLog(disk + "/x.log.jsonl")
        XCTAssertEqual(kept.count, 1, "epoch 0's record is intact")
        XCTAssertNoThrow(try SafetensorsFile(path: disk + "/x.log.jsonl.ckpt.safetensors"), "the checkpoint is intact")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: disk).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no half-written temporary files are left")
    }
}
