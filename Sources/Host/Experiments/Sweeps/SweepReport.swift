import Engine
import Foundation
import PluginHost
import Setting
import Support

/// Tables and plots of a sweep's test reruns, in the paper's shape.
public enum SweepReport {
    public struct Row: Codable {
        public var task: String, method: String, ball: String
        public var initial: Double, success: Double, change: Double, stderr: Double
        public var hard_negative_change: Double?
        /// The general loss's relative change at the reported epoch, mean over seeds.
        public var general_change: Double?
        /// The second protocol at the same epoch: greedy-decoding success before, and its change.
        public var greedy_initial: Double? = nil
        public var greedy_change: Double? = nil
        public var seeds: Int
    }

    /// The report as JSON (report/report.json and `report --json`).
    public struct Document: Codable {
        public var schema_version = ResultsSchema.version
        public var rows: [Row]
        public init(rows: [Row]) { self.rows = rows }
    }

    /// The test-time rule: the last test epoch inside the ball (≤) and not later than the
    /// epoch chosen on validation; averaged over seeds.
    public static func rows(folder: String) throws -> [Row] {
        guard let data = FileManager.default.contents(atPath: folder + "/select.json") else {
            throw CanonEditError("\(folder)/select.json: run canonedit select first")
        }
        let choices = try JSONDecoder().decode([SweepSelect.Choice].self, from: data)
        var rows: [Row] = []
        for c in choices {
            guard let ball = Ball(key: c.ball) else {
                throw CanonEditError("\(folder)/select.json: ball \(c.ball) is not a number")
            }
            var deltas: [Double] = [], succ: [Double] = [], hn: [Double] = [], general: [Double] = [], initial = 0.0
            var greedy: [Double] = [], greedy0: Double? = nil
            for cfg in c.test_configs {
                let log = RunPaths.sweepRun(config: cfg).log
                let stats = try RunRecorder.readLog(log)
                guard !stats.isEmpty else { continue }
                let i = ball.lastEpochInside(stats.map(\.general), rule: .inclusive, cap: c.val_index)
                initial = stats[0].success
                succ.append(stats[i].success)
                deltas.append(stats[i].success - stats[0].success)
                if let h = stats[i].hard_negative, let h0 = stats[0].hard_negative { hn.append(h - h0) }
                general.append(stats[i].general / stats[0].general - 1)
                if let g = stats[i].greedy_success, let g0 = stats[0].greedy_success {
                    greedy.append(g - g0)
                    greedy0 = g0
                }
            }
            guard !deltas.isEmpty else { continue }
            // The standard error as the authors' numpy gives it: np.std (n in the denominator) / √n.
            let n = Double(deltas.count), mean = deltas.reduce(0, +) / n
            let sd = (deltas.map { pow(100 * ($0 - mean), 2) }.reduce(0, +) / n).squareRoot()
            rows.append(
                Row(
                    task: c.task, method: c.method, ball: c.ball, initial: initial, success: succ.reduce(0, +) / n,
                    change: mean,
                    stderr: sd / n.squareRoot(),
                    hard_negative_change: hn.isEmpty ? nil : hn.reduce(0, +) / Double(hn.count),
                    general_change: general.reduce(0, +) / Double(general.count),
                    greedy_initial: greedy.count == deltas.count ? greedy0 : nil,
                    greedy_change: greedy.count == deltas.count ? greedy.reduce(0, +) / Double(greedy.count) : nil,
                    seeds: deltas.count))
        }
        return rows
    }

    /// Writes report.md, report.csv, report.tex and one SVG plot per task plus the average.
    /// `names` are the methods' display names for legends (plugin id → name). Returns the files
    /// written; `note` hears what could not be made (PDF and PNG without rsvg-convert).
    public static func write(
        _ rows: [Row], folder: String, names: [String: String] = [:], note: (String) -> Void = { _ in }
    ) throws -> [String] {
        let out = folder + "/report"
        try Folder.make(out)
        let balls = Ball.paper.map(\.key).filter { b in rows.contains { $0.ball == b } }
        let label = { (key: String) in Ball(key: key)?.label ?? key }
        let groups = Array(Set(rows.map { "\($0.task)|\($0.method)" })).sorted()
        func cell(_ r: Row?) -> String {
            r.map {
                String(format: "%+.1f ± ", 100 * $0.change)
                    + ($0.seeds > 1 ? String(format: "%.1f", $0.stderr) : "n/a")
            }
                ?? "—"
        }
        func row(_ g: String, _ b: String) -> Row? { rows.first { "\($0.task)|\($0.method)" == g && $0.ball == b } }
        var md = [
            "| task | method | initial success | "
                + balls.map { "Δ success, ε=\(label($0))" }.joined(separator: " | ")
                + " | Δ hard neg. (ε=\(balls.first.map(label) ?? "")) |",
            "|---|---|---|" + balls.map { _ in "---|" }.joined() + "---|",
        ]
        var csv = ["task,method,ball,initial,success,change,stderr,hard_negative_change,seeds"]
        var tex = [
            "\\begin{tabular}{ll r" + String(repeating: "r", count: balls.count) + "r}", "\\toprule",
            "task & method & initial & " + balls.map { "$\\epsilon=\(label($0))$" }.joined(separator: " & ")
                + " & HN \\\\", "\\midrule",
        ]
        for g in groups {
            let p = g.split(separator: "|").map(String.init)
            let first = balls.compactMap { row(g, $0) }.first
            let initial = first.map { String(format: "%.1f", 100 * $0.initial) } ?? "—"
            let hn = first?.hard_negative_change.map { String(format: "%+.3f", $0) } ?? "—"
            md.append(
                "| \(p[0]) | \(p[1]) | \(initial) | " + balls.map { cell(row(g, $0)) }.joined(separator: " | ")
                    + " | \(hn) |")
            tex.append(
                "\(p[0].replacingOccurrences(of: "_", with: "\\_")) & \(p[1]) & \(initial) & "
                    + balls.map { cell(row(g, $0)).replacingOccurrences(of: "±", with: "$\\pm$") }.joined(
                        separator: " & ") + " & \(hn) \\\\")
        }
        for r in rows {
            csv.append(
                [
                    r.task, r.method, r.ball, String(r.initial), String(r.success), String(r.change), String(r.stderr),
                    r.hard_negative_change.map { String($0) } ?? "", String(r.seeds),
                ].joined(separator: ","))
        }
        tex += ["\\bottomrule", "\\end{tabular}"]
        try AtomicFile.write(
            Data(
                ("Success change in percentage points (± standard error over seeds).\n\n" + md.joined(separator: "\n")
                    + "\n").utf8), to: out + "/report.md")
        try AtomicFile.write(Data((csv.joined(separator: "\n") + "\n").utf8), to: out + "/report.csv")
        try AtomicFile.write(Data((tex.joined(separator: "\n") + "\n").utf8), to: out + "/report.tex")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(Document(rows: rows)), to: out + "/report.json")
        var files = [out + "/report.md", out + "/report.csv", out + "/report.tex", out + "/report.json"]
        for path in try figures(rows, folder: out, names: names) {
            files.append(path)
            let converted = Rasterizer.convert(path)
            files += converted.files
            if let n = converted.note { note(n) }
        }
        return files
    }

    /// One panel per task and the average (also each panel alone): Δ success against the ball
    /// with standard-error bars.
    static func figures(_ rows: [Row], folder out: String, names: [String: String]) throws -> [String] {
        let tasks = Array(Set(rows.map(\.task))).sorted()
        let methods = Array(Set(rows.map(\.method))).sorted()
        func panel(_ t: String) -> BallFigure.Panel {
            let series = methods.compactMap { m -> BallFigure.Series? in
                let pts = Ball.paper.compactMap { ball -> BallFigure.Point? in
                    let sel = rows.filter { $0.method == m && $0.ball == ball.key && (t == "average" || $0.task == t) }
                    guard !sel.isEmpty else { return nil }
                    let n = Double(sel.count), seeds = sel.map(\.seeds).min()!
                    // Tasks are independent: the average's error is √(Σ se²) / tasks.
                    let se = seeds > 1 ? sel.map { $0.stderr * $0.stderr }.reduce(0, +).squareRoot() / n : nil
                    return .init(ball: ball, change: 100 * sel.map(\.change).reduce(0, +) / n, stderr: se, seeds: seeds)
                }
                return pts.isEmpty ? nil : .init(method: m, name: names[m] ?? m, points: pts)
            }
            return .init(title: t == "average" ? "average over tasks" : t, series: series)
        }
        let seeds = Set(rows.map(\.seeds)).sorted().map(String.init).joined(separator: " or ")
        let plural = seeds == "1" ? "seed" : "seeds"
        let caption =
            "Change in success from the unedited model, mean over \(seeds) \(plural) per point, at the last "
            + "test epoch inside each ball (not after the epoch chosen on validation). Error bars: standard error, "
            + "np.std (n in the denominator) / √n; none where a point has one seed."
        var files: [String] = []
        let panels = tasks.map(panel) + [panel("average")]
        for (name, ps) in [("success-change", panels)]
            + panels.indices.map { i in
                ("success-change-" + (i < tasks.count ? tasks[i] : "average"), [panels[i]])
            }
        {
            let path = out + "/\(name).svg"
            try AtomicFile.write(Data(BallFigure.svg(ps, caption: caption).utf8), to: path)
            files.append(path)
        }
        return files
    }
}
