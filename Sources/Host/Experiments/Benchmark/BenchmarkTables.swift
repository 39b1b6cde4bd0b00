import Engine
import Foundation
import Setting
import Support

/// The Markdown and LaTeX renderings of a benchmark: for each model, one table per task and one
/// for the average over tasks, balls as rows and methods as columns.
extension BenchmarkReport {
    static func methods(_ t: ModelTable) -> [String] {
        Array(Set(t.rows.map(\.method) + t.missing.map(\.method))).sorted()
    }

    /// The text of one task × method × ball: Δ ± se, or why there is none.
    static func text(_ t: ModelTable, task: String, method: String, ball: String, rows: [SweepReport.Row]) -> String {
        if let r = rows.first(where: { $0.task == task && $0.method == method && $0.ball == ball }) { return cell(r) }
        if let m = t.missing.first(where: { $0.task == task && $0.method == method }) {
            return "failed: " + String(m.reason.split(separator: "\n").first ?? "").prefix(80)
        }
        return "—"
    }

    static func markdown(_ doc: Document) -> String {
        var out = [
            "# Benchmark \(doc.name)", "",
            "Δ success in points from the unedited model at the last test epoch inside each ball (not after the "
                + "epoch chosen on validation), mean ± standard error over seeds (np.std / √n); success scored by "
                + "the paper's likelihood threshold per example. Below each table: Δ hard-negative loss and the "
                + "general loss's relative change at the tightest ball; then the second scoring protocol, Δ success "
                + "by greedy decoding (the share of prompts whose greedy continuation begins with the target; for "
                + "stereoset, does not) at each ball's epoch.", "",
        ]
        for t in doc.models {
            let ms = methods(t), avg = average(t.rows)
            out += ["## \(t.model)", ""]
            for task in t.initial.map(\.task) + (avg.isEmpty ? [] : ["average"]) {
                let rows = task == "average" ? avg : t.rows
                if let i = t.initial.first(where: { $0.task == task }) {
                    out.append(
                        "### \(task) (initial success: validation \(pct(i.validation)), test \(pct(i.test)))")
                } else {
                    out.append("### average over tasks")
                }
                out += [
                    "", "| ball | " + ms.joined(separator: " | ") + " |", "|---|" + ms.map { _ in "---|" }.joined(),
                ]
                for ball in Ball.paper {
                    out.append(
                        "| ε=\(ball.label) | "
                            + ms.map { text(t, task: task, method: $0, ball: ball.key, rows: rows) }.joined(
                                separator: " | ") + " |")
                }
                let tight = Ball.paper.last!.key
                out.append(
                    "| Δ hard neg. / Δ general, ε=\(Ball.paper.last!.label) | "
                        + ms.map { m in
                            rows.first { $0.task == task && $0.method == m && $0.ball == tight }.map {
                                ($0.hard_negative_change.map { String(format: "%+.3f", $0) } ?? "—") + " / "
                                    + ($0.general_change.map { String(format: "%+.4f%%", 100 * $0) } ?? "—")
                            } ?? "—"
                        }.joined(separator: " | ") + " |")
                out.append(greedyRow(task: task, methods: ms, rows: rows))
                out.append("")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The second protocol's row: Δ greedy-decoding success at each ball's epoch, "a / b / c".
    static func greedyRow(task: String, methods: [String], rows: [SweepReport.Row]) -> String {
        let cells = methods.map { m in
            Ball.paper.map { b in
                rows.first { $0.task == task && $0.method == m && $0.ball == b.key }?.greedy_change.map {
                    String(format: "%+.1f", 100 * $0)
                } ?? "—"
            }.joined(separator: " / ")
        }
        return "| Δ greedy success, ε=" + Ball.paper.map(\.label).joined(separator: " / ") + " | "
            + cells.joined(separator: " | ") + " |"
    }

    static func pct(_ x: Double?) -> String { x.map { String(format: "%.1f", 100 * $0) } ?? "—" }

    static func latex(_ doc: Document) -> String {
        var out: [String] = []
        for t in doc.models {
            let ms = methods(t), avg = average(t.rows)
            out += [
                "% \(t.model)", "\\begin{tabular}{ll r" + String(repeating: "r", count: ms.count) + "}", "\\toprule",
                "task & $\\epsilon$ & initial & "
                    + ms.map { $0.replacingOccurrences(of: "_", with: "\\_") }.joined(
                        separator: " & ") + " \\\\", "\\midrule",
            ]
            for task in t.initial.map(\.task) + (avg.isEmpty ? [] : ["average"]) {
                let rows = task == "average" ? avg : t.rows
                let initial = pct(t.initial.first { $0.task == task }?.test)
                for (k, ball) in Ball.paper.enumerated() {
                    let name = k == 0 ? task.replacingOccurrences(of: "_", with: "\\_") : ""
                    let cells = ms.map {
                        text(t, task: task, method: $0, ball: ball.key, rows: rows)
                            .replacingOccurrences(of: "±", with: "$\\pm$").replacingOccurrences(of: "_", with: "\\_")
                    }
                    out.append(
                        "\(name) & \(ball.label) & \(k == 0 ? initial : "") & " + cells.joined(separator: " & ")
                            + " \\\\")
                }
            }
            out += ["\\bottomrule", "\\end{tabular}", ""]
        }
        return out.joined(separator: "\n")
    }
}
