import Engine
import Foundation
import PluginHost
import Setting
import Support

/// Runs a sweep's configs, each in its own child process (`canonedit run CONFIG`), so a plugin
/// that crashes costs one run, not the sweep. Runs whose results exist are skipped, so a killed
/// sweep resumes where it stopped.
public final class SweepRunner {
    public struct Failure: Codable { public var config: String; public var method: String; public var reason: String }
    public struct Summary: Codable {
        public var total: Int, skipped: Int, succeeded: Int
        public var failed: [Failure]
    }

    let runs: [SweepPlanner.Run]
    let executable: String
    let workers: Int
    let extraArguments: [String]
    public var progress: (String) -> Void = { _ in }

    public init(runs: [SweepPlanner.Run], executable: String, workers: Int, extraArguments: [String] = []) {
        self.runs = runs
        self.executable = executable
        self.workers = max(1, workers)
        self.extraArguments = extraArguments
    }

    /// A finished run: its results file exists (a run that stopped early records its error in it).
    public static func finished(_ r: SweepPlanner.Run) -> Bool { FileManager.default.fileExists(atPath: r.results) }

    public static func error(of r: SweepPlanner.Run) -> String? {
        (try? RunResults.read(r.results))?.error
    }

    public func run() throws -> Summary {
        let todo = runs.filter { !Self.finished($0) }
        var summary = Summary(total: runs.count, skipped: runs.count - todo.count, succeeded: 0, failed: [])
        progress(
            "sweep: \(runs.count) runs, \(summary.skipped) already done, \(todo.count) to run on \(workers) worker(s)")
        var queue = todo[...]
        var running: [(Process, SweepPlanner.Run, Date, String)] = []
        var durations: [Double] = []
        let lock = NSLock()
        while !queue.isEmpty || !running.isEmpty {
            while running.count < workers, let r = queue.popFirst() {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: executable)
                p.arguments = ["run", r.config, "--threads", "1"] + extraArguments
                let errPath = r.results + ".stderr.log"
                FileManager.default.createFile(atPath: errPath, contents: nil)
                p.standardError = FileHandle(forWritingAtPath: errPath)
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                running.append((p, r, Date(), errPath))
            }
            Thread.sleep(forTimeInterval: 0.2)
            if Cancellation.isRequested {
                for (p, _, _, _) in running { p.terminate() }
                throw CanonEditError("sweep interrupted; run the same command again to continue")
            }
            var still: [(Process, SweepPlanner.Run, Date, String)] = []
            var finishedNow = 0
            for entry in running {
                let (p, r, started, errPath) = entry
                if p.isRunning { still.append(entry); continue }
                lock.lock(); durations.append(Date().timeIntervalSince(started)); lock.unlock()
                let tail =
                    (try? String(contentsOfFile: errPath, encoding: .utf8))?.split(separator: "\n").last.map(
                        String.init) ?? ""
                if p.terminationReason == .uncaughtSignal {
                    summary.failed.append(
                        Failure(
                            config: r.config, method: r.method,
                            reason:
                                "the run crashed (signal \(p.terminationStatus)) in plugin \(r.method); last output: "
                                + "\(tail)"
                        ))
                } else if let e = Self.error(of: r) {
                    summary.failed.append(Failure(config: r.config, method: r.method, reason: e))
                } else if p.terminationStatus != 0 || !Self.finished(r) {
                    summary.failed.append(
                        Failure(config: r.config, method: r.method, reason: "exit \(p.terminationStatus): \(tail)"))
                } else {
                    summary.succeeded += 1
                }
                finishedNow += 1
            }
            running = still
            if finishedNow > 0 {
                let done = summary.succeeded + summary.failed.count
                let mean = durations.reduce(0, +) / Double(durations.count)
                let left = Double(todo.count - done) * mean / Double(workers)
                progress(
                    String(
                        format: "sweep: %d/%d done, %d failed, %d running, about %.0f s left", done, todo.count,
                        summary.failed.count,
                        running.count + min(queue.count, workers - running.count), left))
            }
        }
        for f in summary.failed { progress("failed: \(f.config) (\(f.method)): \(f.reason)") }
        return summary
    }
}
