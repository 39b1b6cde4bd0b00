import Engine
import Foundation
import PluginHost
import Setting
import Support

/// A Slurm job array over a sweep's unfinished runs: one array task per run, each calling
/// `canonedit run CONFIG`; results land in the sweep's (shared) results folder.
public enum SlurmArray {
    public struct Resources {
        public var cpus = 2, memory = "8G", time = "02:00:00", parallel = 0, partition: String? = nil
        public init() {}
    }

    public static func script(
        runs: [SweepPlanner.Run], executable: String, folder: String, name: String, resources r: Resources
    ) -> String {
        let todo = runs.filter { !SweepRunner.finished($0) }
        let cwd = FileManager.default.currentDirectoryPath
        func abs(_ p: String) -> String { p.hasPrefix("/") ? p : cwd + "/" + p }
        var lines = [
            "#!/bin/bash",
            "#SBATCH --job-name=canonedit-\(name)",
            "#SBATCH --array=0-\(max(todo.count - 1, 0))" + (r.parallel > 0 ? "%\(r.parallel)" : ""),
            "#SBATCH --cpus-per-task=\(r.cpus)",
            "#SBATCH --mem=\(r.memory)",
            "#SBATCH --time=\(r.time)",
            "#SBATCH --output=\(abs(folder))/slurm/%A_%a.out",
        ]
        if let p = r.partition { lines.append("#SBATCH --partition=\(p)") }
        lines +=
            [
                "# Written by canonedit sweep --slurm: one array task per run not yet finished.",
                "cd \(cwd)",
                "CONFIGS=(",
            ] + todo.map { "  \"\(abs($0.config))\"" } + [
                ")",
                "exec \(executable) run \"${CONFIGS[$SLURM_ARRAY_TASK_ID]}\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"",
            ]
        return lines.joined(separator: "\n") + "\n"
    }
}
