import Foundation
import Setting

/// The paper's figure: change in success against the degradation ball, one line per method
/// with standard-error bars over seeds, one panel per task and the average (README: Sweeps).
enum BallFigure {
    struct Point { let ball: Ball; let change: Double; let stderr: Double?; let seeds: Int }
    struct Series { let method: String; let name: String; let points: [Point] }
    struct Panel { let title: String; let series: [Series] }

    static let panelWidth = 330.0, panelHeight = 300.0, top = 44.0, bottom = 62.0, right = 18.0

    static func svg(_ panels: [Panel], caption: String) -> String {
        let names = Array(Set(panels.flatMap { $0.series.map(\.name) })).sorted()
        let methods = names.map { n in panels.flatMap(\.series).first { $0.name == n }!.method }
        let legendWidth = (names.map { SVGFigure.textWidth($0, size: 13) }.max() ?? 0) + 56
        let ys = panels.flatMap {
            $0.series.flatMap { $0.points.flatMap { [$0.change - ($0.stderr ?? 0), $0.change + ($0.stderr ?? 0)] } }
        }
        let ticks = NiceTicks.ticks(min(ys.min() ?? 0, 0), max(ys.max() ?? 0, 0.5))
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let left = (ticks.map { SVGFigure.textWidth(NiceTicks.label($0, step: step), size: 12) }.max() ?? 20) + 44
        let columns = min(panels.count, 3), rows = (panels.count + columns - 1) / columns
        let width = Double(columns) * (left + panelWidth + right) + legendWidth
        let captionLines = wrap(caption, width: width - 20, size: 12)
        var fig = SVGFigure(
            width: width, height: Double(rows) * (top + panelHeight + bottom) + 18 * Double(captionLines.count) + 16)
        for (i, panel) in panels.enumerated() {
            let x0 = Double(i % columns) * (left + panelWidth + right) + left
            let y0 = Double(i / columns) * (top + panelHeight + bottom) + top
            draw(panel, into: &fig, x0: x0, y0: y0, left: left, ticks: ticks, step: step, methods: methods)
        }
        // Legend, right of the panels: the methods' display names.
        let lx = Double(columns) * (left + panelWidth + right) + 12
        for (k, name) in names.enumerated() {
            let y = top + 20 + Double(k) * 22, c = SVGFigure.colors[k % SVGFigure.colors.count]
            fig.line(lx, y - 4, lx + 26, y - 4, stroke: c, width: 3, cls: "legend-swatch")
            fig.text(name, x: lx + 32, y: y, cls: "legend")
        }
        let cy = Double(rows) * (top + panelHeight + bottom) + 6
        for (k, l) in captionLines.enumerated() { fig.text(l, x: 10, y: cy + 18 * Double(k), size: 12, cls: "caption") }
        return fig.svg
    }

    static func draw(
        _ p: Panel, into fig: inout SVGFigure, x0: Double, y0: Double, left: Double, ticks: [Double], step: Double,
        methods: [String]
    ) {
        let (lo, hi) = (ticks.first!, ticks.last!)
        func x(_ b: Ball) -> Double { x0 + 30 + (log10(b.epsilon) + 5) / 2 * (panelWidth - 60) }
        func y(_ v: Double) -> Double { y0 + (hi - v) / max(hi - lo, 1e-9) * panelHeight }
        fig.text(p.title, x: x0 + panelWidth / 2, y: y0 - 16, size: 14, anchor: "middle", weight: "bold", cls: "title")
        for t in ticks {
            fig.line(x0, y(t), x0 + panelWidth, y(t), stroke: "#e5e5e5", cls: "grid")
            fig.text(NiceTicks.label(t, step: step), x: x0 - 8, y: y(t) + 4, size: 12, anchor: "end", cls: "ytick")
        }
        fig.line(x0, y(0), x0 + panelWidth, y(0), stroke: "#555", width: 1.2, dash: "5 3", cls: "zero")
        fig.line(x0, y0, x0, y0 + panelHeight)
        fig.line(x0, y0 + panelHeight, x0 + panelWidth, y0 + panelHeight)
        for b in Ball.paper {
            fig.line(x(b), y0 + panelHeight, x(b), y0 + panelHeight + 5)
            fig.text("ε = " + b.label, x: x(b), y: y0 + panelHeight + 20, size: 12, anchor: "middle", cls: "xtick")
        }
        fig.text(
            "degradation ball ε (general loss ≤ (1+ε)·unedited)", x: x0 + panelWidth / 2,
            y: y0 + panelHeight + 44, size: 12, anchor: "middle", cls: "axis-title")
        fig.text(
            "Δ success (percentage points)", x: x0 - left + 16, y: y0 + panelHeight / 2, size: 12, anchor: "middle",
            rotate: -90, cls: "axis-title")
        for s in p.series {
            let k = methods.firstIndex(of: s.method) ?? 0, c = SVGFigure.colors[k % SVGFigure.colors.count]
            let dx = (Double(k) - Double(methods.count - 1) / 2) * 7  // methods side by side at one ε
            let pts = s.points.sorted { $0.ball.epsilon < $1.ball.epsilon }
            fig.polyline(pts.map { (x($0.ball) + dx, y($0.change)) }, stroke: c)
            for pt in pts {
                if let e = pt.stderr {
                    let px = x(pt.ball) + dx
                    fig.line(px, y(pt.change - e), px, y(pt.change + e), stroke: c, width: 1.5, cls: "errorbar")
                    fig.line(px - 4, y(pt.change - e), px + 4, y(pt.change - e), stroke: c, width: 1.5, cls: "errorbar")
                    fig.line(px - 4, y(pt.change + e), px + 4, y(pt.change + e), stroke: c, width: 1.5, cls: "errorbar")
                }
                fig.circle(x(pt.ball) + dx, y(pt.change), fill: c)
            }
        }
    }

    /// Words of `s` in lines no wider than `width`.
    static func wrap(_ s: String, width: Double, size: Double) -> [String] {
        var lines: [String] = [], cur = ""
        for w in s.split(separator: " ") {
            let next = cur.isEmpty ? String(w) : cur + " " + w
            if SVGFigure.textWidth(next, size: size) > width, !cur.isEmpty {
                lines.append(cur); cur = String(w)
            } else {
                cur = next
            }
        }
        if !cur.isEmpty { lines.append(cur) }
        return lines
    }
}
