import Foundation
import Yams

/// Choosing the best validation configuration per task × method × ball, and rerunning it
/// (spec §2.5–2.6).
public enum SweepSelect {
    public struct Choice: Codable {
        public var task: String, method: String, ball: String
        public var config: String
        public var val_success: Double, val_improvement: Double, val_index: Int
        public var test_configs: [String]
    }

    /// rule "success" (the authors' Backpack rule) or "improvement" (their Pythia/GPT-J rule).
    /// Test configs have `replace` applied to the split-specific paths (not the general corpus,
    /// and not the hard negatives, as the authors did) and seeds 0..<seeds.
    public static func run(folder: String, rule: String, seeds: Int, replace: (String, String), balls: [Double] = Ball.epsilons) throws -> [Choice] {
        guard let data = FileManager.default.contents(atPath: folder + "/plan.json") else { throw CanonEditError("\(folder)/plan.json: no sweep plan here") }
        let runs = try JSONDecoder().decode([SweepPlanner.Run].self, from: data)
        var best: [String: (SweepPlanner.Run, Double, Double, Int)] = [:]
        var order: [String] = []
        for r in runs where SweepRunner.finished(r) && SweepRunner.error(of: r) == nil {
            guard let res = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: r.results))) as? [String: Any],
                  let test = res["test"] as? [String: Any], let initial = (test["initial_eval"] as? [String: Any])?["success"] as? Double else { continue }
            for eps in balls {
                guard let at = test[Ball.key(eps)] as? [String: Any], let s = at["success"] as? Double, let idx = at["index"] as? Int else { continue }
                let key = "\(r.task)|\(r.method)|\(Ball.key(eps))"
                let score = rule == "improvement" ? s - initial : s
                if best[key] == nil { order.append(key) }
                if best[key] == nil || score > (rule == "improvement" ? best[key]!.2 : best[key]!.1) { best[key] = (r, s, s - initial, idx) }
            }
        }
        var choices: [Choice] = []
        try FileManager.default.createDirectory(atPath: folder + "/test/configs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/test/results", withIntermediateDirectories: true)
        for key in order {
            let (r, s, imp, idx) = best[key]!
            let ball = key.split(separator: "|")[2]
            guard var yaml = try Yams.load(yaml: String(contentsOfFile: r.config, encoding: .utf8)) as? [String: Any],
                  var training = yaml["training"] as? [String: Any], var validation = yaml["validation"] as? [String: Any] else { continue }
            for k in ["dataset_path"] { if let p = training[k] as? String { training[k] = p.replacingOccurrences(of: replace.0, with: replace.1) } }
            for k in ["intervention_eval_path", "degredation_targeted_path"] {
                if let p = validation[k] as? String { validation[k] = p.replacingOccurrences(of: replace.0, with: replace.1) }
            }
            yaml["training"] = training
            yaml["validation"] = validation
            var tests: [String] = []
            for seed in 0..<seeds {
                let name = "\(r.task)-\(r.method)-\(ball)-seed\(seed)"
                yaml["seed"] = seed
                yaml["logfile"] = folder + "/test/results/\(name).log.jsonl"
                yaml["resultsfile"] = folder + "/test/results/\(name).results.json"
                let path = folder + "/test/configs/\(name).yaml"
                try AtomicFile.write(Data(try Yams.dump(object: yaml, sortKeys: true).utf8), to: path)
                tests.append(path)
            }
            choices.append(Choice(task: r.task, method: r.method, ball: String(ball), config: r.config, val_success: s, val_improvement: imp,
                                  val_index: idx, test_configs: tests))
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(choices), to: folder + "/select.json")
        let testRuns = choices.flatMap { c in c.test_configs.map {
            SweepPlanner.Run(config: $0, results: $0.replacingOccurrences(of: "/test/configs/", with: "/test/results/").replacingOccurrences(of: ".yaml", with: ".results.json"),
                             task: c.task, method: c.method)
        } }
        try AtomicFile.write(try JSONEncoder().encode(testRuns), to: folder + "/test/plan.json")
        return choices
    }
}

/// Tables and plots of a sweep's test reruns, in the paper's shape.
public enum SweepReport {
    public struct Row: Codable {
        public var task: String, method: String, ball: String
        public var initial: Double, success: Double, change: Double, stderr: Double
        public var hard_negative_change: Double?
        public var seeds: Int
    }

    /// The test-time rule: the last test epoch inside the ball (≤) and not later than the
    /// epoch chosen on validation; averaged over seeds.
    public static func rows(folder: String) throws -> [Row] {
        guard let data = FileManager.default.contents(atPath: folder + "/select.json") else { throw CanonEditError("\(folder)/select.json: run canonedit select first") }
        let choices = try JSONDecoder().decode([SweepSelect.Choice].self, from: data)
        var rows: [Row] = []
        for c in choices {
            let eps = Double(c.ball)!
            var deltas: [Double] = [], succ: [Double] = [], hn: [Double] = [], initial = 0.0
            for cfg in c.test_configs {
                let log = cfg.replacingOccurrences(of: "/test/configs/", with: "/test/results/").replacingOccurrences(of: ".yaml", with: ".log.jsonl")
                let stats = try RunRecorder.readLog(log)
                guard !stats.isEmpty else { continue }
                let i = Ball.lastInBall(stats.map(\.general), epsilon: eps, strict: false, cap: c.val_index)
                initial = stats[0].success
                succ.append(stats[i].success)
                deltas.append(stats[i].success - stats[0].success)
                if let h = stats[i].hard_negative, let h0 = stats[0].hard_negative { hn.append(h - h0) }
            }
            guard !deltas.isEmpty else { continue }
            let n = Double(deltas.count), mean = deltas.reduce(0, +) / n
            let sd = n > 1 ? (deltas.map { pow(100 * ($0 - mean), 2) }.reduce(0, +) / (n - 1)).squareRoot() : 0
            rows.append(Row(task: c.task, method: c.method, ball: c.ball, initial: initial, success: succ.reduce(0, +) / n, change: mean,
                            stderr: sd / n.squareRoot(), hard_negative_change: hn.isEmpty ? nil : hn.reduce(0, +) / Double(hn.count), seeds: deltas.count))
        }
        return rows
    }

    /// Writes report.md, report.csv, report.tex and one SVG plot per task plus the average.
    public static func write(_ rows: [Row], folder: String) throws -> [String] {
        let out = folder + "/report"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let balls = Ball.epsilons.map(Ball.key).filter { b in rows.contains { $0.ball == b } }
        let groups = Array(Set(rows.map { "\($0.task)|\($0.method)" })).sorted()
        func cell(_ r: Row?) -> String { r.map { String(format: "%+.1f ± %.1f", 100 * $0.change, $0.stderr) } ?? "—" }
        func row(_ g: String, _ b: String) -> Row? { rows.first { "\($0.task)|\($0.method)" == g && $0.ball == b } }
        var md = ["| task | method | initial success | " + balls.map { "Δ success, ε=\($0)" }.joined(separator: " | ") + " | Δ hard neg. (ε=\(balls.first ?? "")) |",
                  "|---|---|---|" + balls.map { _ in "---|" }.joined() + "---|"]
        var csv = ["task,method,ball,initial,success,change,stderr,hard_negative_change,seeds"]
        var tex = ["\\begin{tabular}{ll r" + String(repeating: "r", count: balls.count) + "r}", "\\toprule",
                   "task & method & initial & " + balls.map { "$\\epsilon=\($0)$" }.joined(separator: " & ") + " & HN \\\\", "\\midrule"]
        for g in groups {
            let p = g.split(separator: "|").map(String.init)
            let first = balls.compactMap { row(g, $0) }.first
            let initial = first.map { String(format: "%.1f", 100 * $0.initial) } ?? "—"
            let hn = first?.hard_negative_change.map { String(format: "%+.3f", $0) } ?? "—"
            md.append("| \(p[0]) | \(p[1]) | \(initial) | " + balls.map { cell(row(g, $0)) }.joined(separator: " | ") + " | \(hn) |")
            tex.append("\(p[0].replacingOccurrences(of: "_", with: "\\_")) & \(p[1]) & \(initial) & " + balls.map { cell(row(g, $0)).replacingOccurrences(of: "±", with: "$\\pm$") }.joined(separator: " & ") + " & \(hn) \\\\")
        }
        for r in rows {
            csv.append([r.task, r.method, r.ball, String(r.initial), String(r.success), String(r.change), String(r.stderr),
                        r.hard_negative_change.map { String($0) } ?? "", String(r.seeds)].joined(separator: ","))
        }
        tex += ["\\bottomrule", "\\end{tabular}"]
        try AtomicFile.write(Data(("Success change in percentage points (± standard error over seeds).\n\n" + md.joined(separator: "\n") + "\n").utf8), to: out + "/report.md")
        try AtomicFile.write(Data((csv.joined(separator: "\n") + "\n").utf8), to: out + "/report.csv")
        try AtomicFile.write(Data((tex.joined(separator: "\n") + "\n").utf8), to: out + "/report.tex")
        var files = [out + "/report.md", out + "/report.csv", out + "/report.tex"]
        let tasks = Array(Set(rows.map(\.task))).sorted()
        let methods = Array(Set(rows.map(\.method))).sorted()
        for t in tasks + ["average"] {
            var series: [(String, [(Double, Double)])] = []
            for m in methods {
                let pts: [(Double, Double)] = Ball.epsilons.compactMap { eps in
                    let sel = rows.filter { $0.method == m && $0.ball == Ball.key(eps) && (t == "average" || $0.task == t) }
                    return sel.isEmpty ? nil : (eps, 100 * sel.map(\.change).reduce(0, +) / Double(sel.count))
                }
                if !pts.isEmpty { series.append((m, pts)) }
            }
            let path = out + "/success-change-\(t).svg"
            try AtomicFile.write(Data(LinePlot.svg(title: "\(t): success change against the degradation ball", series: series).utf8), to: path)
            files.append(path)
        }
        return files
    }
}

/// A small SVG line chart: x is the ball ε on a log scale, y the success change in points.
enum LinePlot {
    static func svg(title: String, series: [(String, [(Double, Double)])]) -> String {
        let (W, H, left, right, top, bottom) = (640.0, 400.0, 70.0, 150.0, 40.0, 50.0)
        let ys: [Double] = series.flatMap { s in s.1.map { $0.1 } } + [0]
        var (lo, hi) = (ys.min()!, ys.max()!)
        if hi - lo < 1 { lo -= 0.5; hi += 0.5 }
        let pad = (hi - lo) * 0.1
        (lo, hi) = (lo - pad, hi + pad)
        func x(_ eps: Double) -> Double { left + (log10(eps) + 5) / 2 * (W - left - right) }
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * (H - top - bottom) }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        var s = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-family=\"sans-serif\" font-size=\"13\">",
                 "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                 "<text x=\"\(Int(W / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(title)</text>",
                 "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(W - right)\" y2=\"\(y(0))\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                 "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(H - bottom)\" stroke=\"black\"/>",
                 "<line x1=\"\(left)\" y1=\"\(H - bottom)\" x2=\"\(W - right)\" y2=\"\(H - bottom)\" stroke=\"black\"/>"]
        for eps in Ball.epsilons {
            s.append("<text x=\"\(x(eps))\" y=\"\(H - bottom + 18)\" text-anchor=\"middle\">ε = \(Ball.key(eps))</text>")
        }
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            s.append("<text x=\"\(left - 8)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(String(format: "%+.1f", v))</text>")
        }
        s.append("<text x=\"18\" y=\"\(Int(H / 2))\" transform=\"rotate(-90 18 \(Int(H / 2)))\" text-anchor=\"middle\">Δ success (points)</text>")
        for (i, (name, pts)) in series.enumerated() {
            let c = colors[i % colors.count]
            s.append("<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2.5\" points=\"" + pts.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ") + "\"/>")
            for p in pts { s.append("<circle cx=\"\(x(p.0))\" cy=\"\(y(p.1))\" r=\"4\" fill=\"\(c)\"/>") }
            s.append("<line x1=\"\(W - right + 15)\" y1=\"\(top + 20 + Double(i) * 22)\" x2=\"\(W - right + 40)\" y2=\"\(top + 20 + Double(i) * 22)\" stroke=\"\(c)\" stroke-width=\"3\"/>")
            s.append("<text x=\"\(W - right + 46)\" y=\"\(top + 24 + Double(i) * 22)\">\(name)</text>")
        }
        s.append("</svg>")
        return s.joined(separator: "\n")
    }
}
