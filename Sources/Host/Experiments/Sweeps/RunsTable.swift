import Engine
import Foundation
import Setting
import Support

/// Single runs side by side (`canonedit report A.results.json runs/`): one row per results
/// file, read as written, with the success each ball certifies and the epoch it comes from.
public enum RunsTable {
    public struct Cell: Encodable { public let success: Double, epoch: Int, general_change: Double }
    public struct Row: Encodable {
        public let run: String, method: String, task: String, model: String
        public let initial: Double
        public let balls: [String: Cell]
        public let hard_negative_change: Double?
        public let error: String?
    }
    public struct Document: Encodable {
        public var schema_version = ResultsSchema.version
        public let kind = "canonedit.runs"
        public let rows: [Row]
        public init(rows: [Row]) { self.rows = rows }
    }

    /// Results files: each input that is a file, and every `*.results.json` directly in each
    /// input that is a folder, in name order.
    public static func files(_ inputs: [String]) throws -> [String] {
        try inputs.flatMap { input -> [String] in
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
                throw CanonEditError("\(input): no such results file or run folder")
            }
            guard isDir.boolValue else { return [input] }
            let found = try FileManager.default.contentsOfDirectory(atPath: input)
                .filter { $0.hasSuffix(".results.json") }.sorted().map { input + "/" + $0 }
            guard !found.isEmpty else { throw CanonEditError("\(input): no *.results.json in this folder") }
            return found
        }
    }

    public static func rows(_ files: [String]) throws -> [Row] {
        try files.map { path in
            let r = try RunResults.read(path)
            guard let initial = r.initial else { throw CanonEditError("\(path): no initial_eval") }
            var balls: [String: Cell] = [:]
            for ball in Ball.paper {
                guard let at = r.at(ball) else { continue }
                balls[ball.label] = Cell(
                    success: at.success, epoch: at.index ?? 0,
                    general_change: at.figures.general / initial.figures.general - 1)
            }
            let last = r.at(Ball.paper.last!)
            let hn = last?.figures.hard_negative.flatMap { a in initial.figures.hard_negative.map { a - $0 } }
            return Row(
                run: ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    .replacingOccurrences(of: ".results", with: ""),
                method: r.config.training.finetune_type, task: SweepPlanner.task(of: r.config), model: r.config.model,
                initial: initial.success, balls: balls, hard_negative_change: hn, error: r.error)
        }
    }

    /// A Markdown table: success in percent with the epoch each ball certifies.
    public static func markdown(_ rows: [Row]) -> String {
        let labels = Ball.paper.map(\.label)
        var lines = [
            "| run | method | task | model | initial | " + labels.map { "ε=\($0) (epoch)" }.joined(separator: " | ")
                + " | Δ hard neg. (ε=\(labels.last!)) |",
            "|---|---|---|---|---|" + String(repeating: "---|", count: labels.count + 1),
        ]
        for r in rows {
            let cells = labels.map { l in
                r.balls[l].map { String(format: "%.1f (%d)", $0.success * 100, $0.epoch) } ?? "—"
            }
            let hn = r.hard_negative_change.map { String(format: "%+.3f", $0) } ?? "—"
            let name = r.error == nil ? r.run : r.run + " (stopped early)"
            lines.append(
                "| \(name) | \(r.method) | \(r.task) | \(r.model) | \(String(format: "%.1f", r.initial * 100)) | "
                    + cells.joined(separator: " | ") + " | \(hn) |")
        }
        return lines.joined(separator: "\n")
    }
}
