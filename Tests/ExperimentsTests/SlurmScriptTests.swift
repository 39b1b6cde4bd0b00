import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import Setting
@testable import Support

/// Nothing from a sweep spec or a folder name runs as shell code when Slurm executes the job
/// script: values go to sbatch as arguments or through a list file, paths are single-quoted.
final class SlurmScriptTests: XCTestCase {
    func testHostileFoldersAndExecutablePathsRunOnlyTheIntendedCommand() throws {
        let base = temporaryFolder(self)
        let marker = base + "/pwned"
        // A folder and an executable whose names would run commands if pasted into shell code.
        let hostile = base + "/a b;touch \(marker);'$(touch \(marker))`touch \(marker)`"
        try FileManager.default.createDirectory(atPath: hostile + "/configs", withIntermediateDirectories: true)
        let exe = hostile + "/fake canonedit"
        let argsOut = base + "/args.txt"
        try AtomicFile.write(
            Data("#!/bin/bash\nprintf '%s\\n' \"$@\" > '\(argsOut)'\n".utf8), to: exe)
        chmod(exe, 0o755)
        let config = hostile + "/configs/task-lora-0.yaml"
        let run = SweepPlanner.Run(config: config, results: hostile + "/r.json", task: "task", method: "lora")
        var r = SlurmArray.Resources()
        r.cpus = 1
        let job = try SlurmArray.write(
            runs: [run], executable: exe, folder: hostile, name: "safe-name", resources: r, workingFolder: hostile)
        XCTAssertTrue(job.sbatchArguments.contains("--job-name=canonedit-safe-name"))

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [job.script]
        p.environment = ["SLURM_ARRAY_TASK_ID": "0", "SLURM_CPUS_PER_TASK": "1", "PATH": "/usr/bin:/bin"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "a command inside a name was run")
        let args = try String(contentsOfFile: argsOut, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(args, ["run", config, "--threads", "1"])
    }

    func testUnsafeNamesAndResourcesAreRefused() throws {
        let dir = temporaryFolder(self)
        for name in ["x$(touch F)", "two\nlines", "-rf", "a b", ""] {
            let spec = dir + "/spec.yaml"
            try AtomicFile.write(
                Data("name: \(name.debugDescription)\nbase_configs: [a.yaml]\nruns: 1\n".utf8), to: spec)
            XCTAssertThrowsError(try SweepSpec.load(spec), name) {
                XCTAssertTrue("\($0)".contains("may hold only letters, digits"), "\($0)")
            }
        }
        for (body, fragment) in [
            ("runs: -1", "runs must be 1…100000, not -1"),
            ("runs: 2\nlearning_rate: {lora: [-3]}", "learning_rate.lora must be [low, high]"),
        ] {
            let spec = dir + "/numbers.yaml"
            try AtomicFile.write(Data("name: ok\nbase_configs: [a.yaml]\n\(body)\n".utf8), to: spec)
            XCTAssertThrowsError(try SweepSpec.load(spec), body) { XCTAssertTrue("\($0)".contains(fragment), "\($0)") }
        }
        var r = SlurmArray.Resources()
        r.memory = "8G; rm -rf /"
        XCTAssertThrowsError(try SlurmArray.write(runs: [], executable: "/x", folder: dir, name: "n", resources: r)) {
            XCTAssertTrue("\($0)".contains("--slurm-mem"), "\($0)")
        }
        XCTAssertThrowsError(
            try SlurmArray.write(
                runs: [SweepPlanner.Run(config: dir + "/a\nb.yaml", results: dir + "/r", task: "t", method: "m")],
                executable: "/x", folder: dir, name: "n", resources: SlurmArray.Resources())
        ) { XCTAssertTrue("\($0)".contains("line break"), "\($0)") }
    }
}
