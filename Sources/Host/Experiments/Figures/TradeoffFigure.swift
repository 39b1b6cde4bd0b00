import Foundation
import Setting

/// A run's trade-off curve: success against the change in general loss, epoch by epoch, with
/// each ball's cut (ε in percent) drawn where it falls and the epoch each ball certifies ringed.
enum TradeoffFigure {
    static func svg(_ stats: [EpochFigures], title: String) -> String {
        let g0 = stats[0].general
        let xs = stats.map { ($0.general / g0 - 1) * 100 }, ys = stats.map { $0.success * 100 }
        let cuts = Ball.paper.map { ($0, $0.epsilon * 100) }
        // The x range covers every epoch and the cut just beyond the largest change.
        let beyond = cuts.map(\.1).filter { $0 >= (xs.max() ?? 0) }.min() ?? (xs.max() ?? 0)
        let xt = NiceTicks.ticks(min(xs.min() ?? 0, 0), max(beyond, (xs.max() ?? 0) * 1.1, 1e-4))
        let yt = NiceTicks.ticks(max((ys.min() ?? 0) - 5, 0), min((ys.max() ?? 100) + 5, 100))
        let (xstep, ystep) = (xt.count > 1 ? xt[1] - xt[0] : 1, yt.count > 1 ? yt[1] - yt[0] : 1)
        let (left, top, w, h) = (70.0, 46.0, 520.0, 320.0)
        var fig = SVGFigure(width: left + w + 30, height: top + h + 70)
        func x(_ v: Double) -> Double { left + (v - xt.first!) / max(xt.last! - xt.first!, 1e-12) * w }
        func y(_ v: Double) -> Double { top + (yt.last! - v) / max(yt.last! - yt.first!, 1e-12) * h }
        fig.text(title, x: left + w / 2, y: 24, size: 14, anchor: "middle", weight: "bold", cls: "title")
        for t in yt {
            fig.line(left, y(t), left + w, y(t), stroke: "#e5e5e5", cls: "grid")
            fig.text(
                NiceTicks.label(t, step: ystep, signed: false), x: left - 8, y: y(t) + 4, size: 12,
                anchor: "end", cls: "ytick")
        }
        for t in xt {
            fig.line(x(t), top + h, x(t), top + h + 5)
            fig.text(
                NiceTicks.label(t, step: xstep) + "%", x: x(t), y: top + h + 20, size: 12, anchor: "middle",
                cls: "xtick")
        }
        fig.line(x(0), top, x(0), top + h, stroke: "#555", width: 1.2, dash: "5 3", cls: "zero")
        fig.line(left, top, left, top + h)
        fig.line(left, top + h, left + w, top + h)
        for (k, (ball, cut)) in cuts.enumerated() where cut <= xt.last! {
            let c = SVGFigure.colors[(k + 3) % SVGFigure.colors.count]
            fig.line(x(cut), top, x(cut), top + h, stroke: c, width: 1.5, dash: "2 3", cls: "ball-cut")
            // Right of its line, or left of it where the label would run off the figure.
            let label = "ε = " + ball.label
            let fits = x(cut) + 4 + SVGFigure.textWidth(label, size: 12) <= left + w + 26
            fig.text(
                label, x: x(cut) + (fits ? 4 : -4), y: top + 14 + 16 * Double(k), size: 12,
                anchor: fits ? "start" : "end", cls: "ball-label")
            let i = ball.lastEpochInside(stats.map(\.general))
            fig.ring(x(xs[i]), y(ys[i]), r: 7 + 3 * Double(k), stroke: c)
        }
        fig.polyline(zip(xs, ys).map { (x($0), y($1)) }, stroke: SVGFigure.colors[0], width: 2)
        for (a, b) in zip(xs, ys) { fig.circle(x(a), y(b), r: 3.5, fill: SVGFigure.colors[0]) }
        // Epochs drawn on the same spot share one label ("6–10").
        var i = 0
        while i < xs.count {
            var j = i
            while j + 1 < xs.count, abs(x(xs[j + 1]) - x(xs[i])) < 4, abs(y(ys[j + 1]) - y(ys[i])) < 4 { j += 1 }
            fig.text(i == j ? "\(i)" : "\(i)–\(j)", x: x(xs[i]) + 6, y: y(ys[i]) - 6, size: 10, cls: "epoch")
            i = j + 1
        }
        fig.text(
            "change in general loss from the unedited model (%)", x: left + w / 2, y: top + h + 44, size: 12,
            anchor: "middle", cls: "axis-title")
        fig.text("success (%)", x: 18, y: top + h / 2, size: 12, anchor: "middle", rotate: -90, cls: "axis-title")
        return fig.svg
    }
}
