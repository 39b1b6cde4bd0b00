import Foundation

/// The lines a run prints as it goes: each epoch's figures, which balls still hold, durations.
extension Trainer {
    /// "inside 1e-3 and 1e-4, outside 1e-5 (general +0.0029%)".
    static func ballStatus(_ general: Double, reference: Double) -> String {
        let inside = Ball.paper.filter { $0.contains(general, reference: reference) }.map(\.label)
        let outside = Ball.paper.filter { !$0.contains(general, reference: reference) }.map(\.label)
        let parts = [
            inside.isEmpty ? nil : "inside " + inside.joined(separator: ", "),
            outside.isEmpty ? nil : "outside " + outside.joined(separator: ", "),
        ].compactMap { $0 }
        return parts.joined(separator: ", ") + String(format: " (general %+.4f%%)", (general / reference - 1) * 100)
    }

    /// "42 s", "3 min 5 s", "1 h 2 min".
    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        if t < 60 { return "\(t) s" }
        if t < 3600 { return "\(t / 60) min \(t % 60) s" }
        return "\(t / 3600) h \(t % 3600 / 60) min"
    }

    static func describe(_ epoch: Int, _ f: EpochFigures) -> String {
        String(format: "epoch %d: success %.4f, general %.5f", epoch, f.success, f.general)
            + (f.hard_negative.map { String(format: ", hard negatives %.4f", $0) } ?? "")
            + (f.train_loss.map { String(format: ", train loss %.4f", $0) } ?? "")
            + (f.edit_score.map { String(format: ", edit score %.3f", $0) } ?? "")
    }
}
