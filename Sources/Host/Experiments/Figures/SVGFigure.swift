import Foundation

/// A small SVG writer for report figures: text is escaped, widths of labels are estimated from
/// their characters (sans-serif at the given size) so layouts can keep labels apart.
struct SVGFigure {
    let width: Double, height: Double
    private(set) var elements: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
        elements.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// An estimate of a label's width in pixels (sans-serif; wide letters and digits count more).
    static func textWidth(_ s: String, size: Double) -> Double {
        s.reduce(0.0) { w, c in
            // DejaVu Sans, which rsvg-convert uses here, runs wide: measured on its PNGs.
            w + size * ("mwMW@%".contains(c) ? 0.92 : "iljtf.,:;'|! ".contains(c) ? 0.34 : c.isUppercase ? 0.74 : 0.62)
        }
    }

    mutating func text(
        _ s: String, x: Double, y: Double, size: Double = 13, anchor: String = "start", rotate: Double? = nil,
        weight: String? = nil, cls: String = "label"
    ) {
        let r = rotate.map { " transform=\"rotate(\(fmt($0)) \(fmt(x)) \(fmt(y)))\"" } ?? ""
        let w = weight.map { " font-weight=\"\($0)\"" } ?? ""
        elements.append(
            "<text class=\"\(cls)\" x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"\(fmt(size))\" "
                + "text-anchor=\"\(anchor)\"\(r)\(w)>\(Self.escape(s))</text>")
    }

    mutating func line(
        _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String = "black", width: Double = 1,
        dash: String? = nil, cls: String = "line"
    ) {
        let d = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        elements.append(
            "<line class=\"\(cls)\" x1=\"\(fmt(x1))\" y1=\"\(fmt(y1))\" x2=\"\(fmt(x2))\" y2=\"\(fmt(y2))\" "
                + "stroke=\"\(stroke)\" stroke-width=\"\(fmt(width))\"\(d)/>")
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2.5) {
        let p = points.map { "\(fmt($0.0)),\(fmt($0.1))" }.joined(separator: " ")
        elements.append(
            "<polyline class=\"series\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(fmt(width))\" "
                + "points=\"\(p)\"/>"
        )
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double = 4, fill: String) {
        elements.append("<circle class=\"point\" cx=\"\(fmt(x))\" cy=\"\(fmt(y))\" r=\"\(fmt(r))\" fill=\"\(fill)\"/>")
    }

    mutating func ring(_ x: Double, _ y: Double, r: Double, stroke: String) {
        elements.append(
            "<circle class=\"ring\" cx=\"\(fmt(x))\" cy=\"\(fmt(y))\" r=\"\(fmt(r))\" fill=\"none\" "
                + "stroke=\"\(stroke)\" stroke-width=\"1.5\"/>")
    }

    var svg: String {
        ([
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"DejaVu Sans, sans-serif\">"
        ]
            + elements + ["</svg>"]).joined(separator: "\n") + "\n"
    }

    func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
}

/// Axis ticks at round values (1, 2 or 5 times a power of ten) covering [lo, hi].
enum NiceTicks {
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        let span = max(hi - lo, 1e-9)
        let raw = span / Double(max(count - 1, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        // From the round value at or below lo to the one at or above hi, so every value is inside.
        let first = (lo / step).rounded(.down) * step, last = (hi / step).rounded(.up) * step
        var out: [Double] = []
        var t = first
        while t <= last + step * 1e-9 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    /// A tick value as text: as many decimals as the step needs, "0" for zero, a sign otherwise.
    static func label(_ v: Double, step: Double, signed: Bool = true) -> String {
        let decimals = max(0, -Int(floor(log10(step) + 1e-9)))
        let s = String(format: "%.\(decimals)f", v)
        return v == 0 ? "0" : (signed && v > 0 ? "+" + s : s)
    }
}
