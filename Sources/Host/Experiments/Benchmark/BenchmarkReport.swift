import Engine
import Foundation
import Setting
import Support

/// A benchmark's tables in the paper's shape: per model and task, balls as rows and methods as
/// columns, Δ success in points with its standard error over seeds, the initial success on the
/// validation and test splits beside it, and the average over tasks. Each number is read from
/// the run files (SweepReport.rows over each model's test reruns).
public enum BenchmarkReport {
    public struct TaskInitial: Codable, Equatable {
        public var task: String
        public var validation: Double?, test: Double?
    }

    /// A task × method with no result, and why (every validation run failed, or no rerun finished).
    public struct Missing: Codable, Equatable {
        public var task: String, method: String, reason: String
    }

    public struct ModelTable: Codable {
        public var model: String
        public var initial: [TaskInitial]
        public var rows: [SweepReport.Row]
        public var missing: [Missing]
    }

    public struct Document: Codable {
        public var schema_version = ResultsSchema.version
        public var kind = "canonedit.benchmark"
        /// How success is scored: the paper's likelihood threshold per example; beside it,
        /// whether greedy decoding from the prompt begins with the target (`greedy_change`).
        public var scoring = "likelihood-threshold"
        public var second_scoring = "greedy-prefix"
        public var name: String
        public var models: [ModelTable]
        public init(name: String, models: [ModelTable]) { (self.name, self.models) = (name, models) }
    }

    /// One model's table from its report rows and run files.
    static func table(
        model: String, rows: [SweepReport.Row], validation: [SweepPlanner.Run], tests: [SweepPlanner.Run]
    ) -> ModelTable {
        let tasks = Array(Set(validation.map(\.task))).sorted()
        func initial(_ runs: [SweepPlanner.Run], _ task: String) -> Double? {
            runs.lazy.filter { $0.task == task }.compactMap { try? RunResults.read($0.results).initial?.success }.first
        }
        let initial = tasks.map { TaskInitial(task: $0, validation: initial(validation, $0), test: initial(tests, $0)) }
        var missing: [Missing] = []
        let pairs = Set(validation.map { "\($0.task)|\($0.method)" }).sorted()
        for pair in pairs where !rows.contains(where: { "\($0.task)|\($0.method)" == pair }) {
            let runs = validation.filter { "\($0.task)|\($0.method)" == pair }
            let reason =
                runs.lazy.compactMap { SweepRunner.error(of: $0) ?? loggedError($0) }.first
                ?? (runs.allSatisfy(SweepRunner.finished) ? "no configuration stayed inside any ball" : "not run")
            let p = pair.split(separator: "|").map(String.init)
            missing.append(Missing(task: p[0], method: p[1], reason: reason))
        }
        return ModelTable(model: model, initial: initial, rows: rows, missing: missing)
    }

    /// The error a run that wrote no results printed last (a method refused in prepare).
    static func loggedError(_ r: SweepPlanner.Run) -> String? {
        guard let text = try? String(contentsOfFile: r.results + ".stderr.log", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").last { $0.hasPrefix("error: ") }.map { String($0.dropFirst(7)) }
    }

    /// "+5.6 ± 1.2" (points), "n/a" for one seed's error.
    static func cell(_ r: SweepReport.Row) -> String {
        String(format: "%+.1f ± ", 100 * r.change) + (r.seeds > 1 ? String(format: "%.1f", r.stderr) : "n/a")
    }

    /// The average over tasks of each method and ball that every task has.
    static func average(_ rows: [SweepReport.Row]) -> [SweepReport.Row] {
        let tasks = Set(rows.map(\.task))
        var out: [SweepReport.Row] = []
        for method in Set(rows.map(\.method)).sorted() {
            for ball in Ball.paper.map(\.key) {
                let sel = rows.filter { $0.method == method && $0.ball == ball }
                guard !sel.isEmpty, Set(sel.map(\.task)) == tasks else { continue }
                let n = Double(sel.count)
                func mean(_ f: (SweepReport.Row) -> Double?) -> Double? {
                    let xs = sel.compactMap(f)
                    return xs.count == sel.count ? xs.reduce(0, +) / n : nil
                }
                out.append(
                    SweepReport.Row(
                        task: "average", method: method, ball: ball, initial: mean { $0.initial }!,
                        success: mean { $0.success }!, change: mean { $0.change }!,
                        // Tasks are independent: the average's error is √(Σ se²) / tasks.
                        stderr: sel.map { $0.stderr * $0.stderr }.reduce(0, +).squareRoot() / n,
                        hard_negative_change: mean { $0.hard_negative_change },
                        general_change: mean { $0.general_change },
                        greedy_initial: mean { $0.greedy_initial }, greedy_change: mean { $0.greedy_change },
                        seeds: sel.map(\.seeds).min()!))
            }
        }
        return out
    }

    /// benchmark.md, .csv, .json and .tex in `folder`.
    static func write(_ doc: Document, folder: String) throws {
        try AtomicFile.write(Data(markdown(doc).utf8), to: folder + "/benchmark.md")
        try AtomicFile.write(Data(csv(doc).utf8), to: folder + "/benchmark.csv")
        try AtomicFile.write(Data(latex(doc).utf8), to: folder + "/benchmark.tex")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(doc), to: folder + "/benchmark.json")
    }

    static func csv(_ doc: Document) -> String {
        var lines = [
            "model,task,method,ball,initial,success,change,stderr,hard_negative_change,general_change,greedy_initial,"
                + "greedy_change,seeds"
        ]
        for t in doc.models {
            for r in t.rows + average(t.rows) {
                lines.append(
                    [
                        t.model, r.task, r.method, r.ball, String(r.initial), String(r.success), String(r.change),
                        String(r.stderr), r.hard_negative_change.map { String($0) } ?? "",
                        r.general_change.map { String($0) } ?? "", r.greedy_initial.map { String($0) } ?? "",
                        r.greedy_change.map { String($0) } ?? "", String(r.seeds),
                    ].joined(separator: ","))
            }
            for m in t.missing {
                let empty = Array(repeating: "", count: 9)
                lines.append(([t.model, m.task, m.method] + empty + ["0"]).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
