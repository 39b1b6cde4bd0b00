import Engine
import Foundation
import PluginHost
import Setting
import Support

/// A Slurm job array over a sweep's unfinished runs: one array task per run, each calling
/// `canonedit run CONFIG`; results land in the sweep's (shared) results folder. Nothing from a
/// sweep spec is pasted into shell code: the job's name and resources go to sbatch as
/// arguments, the configs are read from a list file, and the two paths the script itself names
/// (the working folder and the executable) are single-quoted.
public enum SlurmArray {
    public struct Resources {
        public var cpus = 2, memory = "8G", time = "02:00:00", parallel = 0, partition: String? = nil
        public init() {}
    }

    /// What `write` made: the script, the config list it reads, and the sbatch arguments.
    public struct Job {
        public let script: String
        public let configList: String
        public let sbatchArguments: [String]
        public let tasks: Int
    }

    /// Writes `<folder>/slurm/array.sh` and `configs.txt` for the unfinished runs.
    public static func write(
        runs: [SweepPlanner.Run], executable: String, folder: String, name: String, resources r: Resources,
        workingFolder: String = FileManager.default.currentDirectoryPath
    ) throws -> Job {
        try check(r)
        guard SweepSpec.isSafeName(name) else { throw CanonEditError("sweep name \(name.debugDescription) is unsafe") }
        let todo = runs.filter { !SweepRunner.finished($0) }
        func abs(_ p: String) -> String { p.hasPrefix("/") ? p : workingFolder + "/" + p }
        let configs = todo.map { abs($0.config) }
        if let bad = (configs + [folder, executable, workingFolder]).first(where: { $0.contains(where: \.isNewline) }) {
            throw CanonEditError("\(bad.debugDescription): a path with a line break cannot go into a Slurm job")
        }
        let dir = abs(folder) + "/slurm"
        try Folder.make(dir)
        let list = dir + "/configs.txt", script = dir + "/array.sh"
        try AtomicFile.write(Data(configs.map { $0 + "\n" }.joined().utf8), to: list)
        let text =
            [
                "#!/bin/bash",
                "# Written by canonedit sweep --slurm: one array task per run not yet finished. The configs",
                "# are read from a list file, one path per line; sbatch got the job's name and resources.",
                "set -euo pipefail",
                "cd \(quote(workingFolder))",
                "mapfile -t CONFIGS < \(quote(list))",
                "exec \(quote(executable)) run \"${CONFIGS[$SLURM_ARRAY_TASK_ID]}\" --threads "
                    + "\"${SLURM_CPUS_PER_TASK:-1}\"",
            ].joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(text.utf8), to: script)
        var args = [
            "--job-name=canonedit-\(name)",
            "--array=0-\(max(todo.count - 1, 0))" + (r.parallel > 0 ? "%\(r.parallel)" : ""),
            "--cpus-per-task=\(r.cpus)", "--mem=\(r.memory)", "--time=\(r.time)", "--output=\(dir)/%A_%a.out",
        ]
        if let p = r.partition { args.append("--partition=\(p)") }
        return Job(script: script, configList: list, sbatchArguments: args + [script], tasks: todo.count)
    }

    /// Submits a job with sbatch (waiting for the whole array with `wait`); returns its id.
    public static func submit(_ job: Job, wait: Bool) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sbatch", "--parsable"] + (wait ? ["--wait"] : []) + job.sbatchArguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let id = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else {
            throw CanonEditError("sbatch failed (exit \(p.terminationStatus)) for \(job.script)")
        }
        return id
    }

    /// A word for bash, single-quoted: nothing inside is expanded.
    public static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Resource values go to sbatch as arguments; they must still look like what they are.
    static func check(_ r: Resources) throws {
        func ok(_ s: String, _ allowed: String) -> Bool {
            !s.isEmpty && s.unicodeScalars.allSatisfy { CharacterSet(charactersIn: allowed).contains($0) }
        }
        let digits = "0123456789"
        guard r.cpus >= 1, r.cpus <= 4096 else { throw CanonEditError("--slurm-cpus must be 1…4096") }
        guard r.parallel >= 0 else { throw CanonEditError("the array's parallel limit must be ≥ 0") }
        guard ok(r.memory, digits + "KMGTkmgt") else { throw CanonEditError("--slurm-mem \(r.memory) is not like 8G") }
        guard ok(r.time, digits + ":-") else { throw CanonEditError("--slurm-time \(r.time) is not like 02:00:00") }
        if let p = r.partition, !SweepSpec.isSafeName(p) {
            throw CanonEditError("--slurm-partition \(p.debugDescription) is not a partition name")
        }
    }
}
