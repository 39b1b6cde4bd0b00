import Engine
import Foundation
import PluginHost
import Setting
import Support

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
        var s = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" "
                + "font-family=\"sans-serif\" font-size=\"13\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"\(Int(W / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(title)</text>",
            "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(W - right)\" y2=\"\(y(0))\" stroke=\"#999\" "
                + "stroke-dasharray=\"4 3\"/>",
            "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(H - bottom)\" stroke=\"black\"/>",
            "<line x1=\"\(left)\" y1=\"\(H - bottom)\" x2=\"\(W - right)\" y2=\"\(H - bottom)\" stroke=\"black\"/>",
        ]
        for ball in Ball.paper {
            s.append(
                "<text x=\"\(x(ball.epsilon))\" y=\"\(H - bottom + 18)\" text-anchor=\"middle\">ε = "
                    + "\(ball.label)</text>"
            )
        }
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            s.append(
                "<text x=\"\(left - 8)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(String(format: "%+.1f", v))</text>")
        }
        s.append(
            "<text x=\"18\" y=\"\(Int(H / 2))\" transform=\"rotate(-90 18 \(Int(H / 2)))\" text-anchor=\"middle\">Δ "
                + "success (points)</text>"
        )
        for (i, (name, pts)) in series.enumerated() {
            let c = colors[i % colors.count]
            s.append(
                "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2.5\" points=\""
                    + pts.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ") + "\"/>")
            for p in pts { s.append("<circle cx=\"\(x(p.0))\" cy=\"\(y(p.1))\" r=\"4\" fill=\"\(c)\"/>") }
            s.append(
                "<line x1=\"\(W - right + 15)\" y1=\"\(top + 20 + Double(i) * 22)\" x2=\"\(W - right + 40)\" "
                    + "y2=\"\(top + 20 + Double(i) * 22)\" stroke=\"\(c)\" stroke-width=\"3\"/>"
            )
            s.append("<text x=\"\(W - right + 46)\" y=\"\(top + 24 + Double(i) * 22)\">\(name)</text>")
        }
        s.append("</svg>")
        return s.joined(separator: "\n")
    }
}
