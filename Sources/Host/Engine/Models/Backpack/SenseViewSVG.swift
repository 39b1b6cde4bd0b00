import Foundation

extension SenseView {
    /// An SVG table, one row per sense: before the edit on the left and after it on the right,
    /// each with the highest-scoring words (green) over the lowest (red), scores beside them,
    /// spaces shown as ␣; edited senses are shaded and marked.
    public var svg: String {
        let count = before.first.map { $0.top.count } ?? 0
        let column = 44.0 + Double(count) * 150, rowH = 44.0, head = 58.0
        let width = 90 + column * (after == nil ? 1 : 2) + 10
        let height = head + rowH * Double(before.count) + 28
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                + "font-family=\"DejaVu Sans Mono, monospace\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            text(
                10, 22,
                "senses of \(Self.visible(token)) (id \(id)): highest (+) and lowest (−) words, "
                    + "score = sense · embedding; ␣ is a space", bold: true),
            text(90, 46, "before the edit", bold: true),
        ]
        if after != nil { out.append(text(90 + column, 46, "after the edit (shaded: edited senses)", bold: true)) }
        for (l, b) in before.enumerated() {
            let y = head + rowH * Double(l)
            let edited = after?[l].edited == true
            if edited {
                out.append(
                    "<rect class=\"edited\" x=\"4\" y=\"\(y - 4)\" width=\"\(width - 8)\" height=\"\(rowH - 2)\" "
                        + "fill=\"#fff4c2\"/>")
            }
            out.append(text(10, y + 14, "sense \(b.sense)" + (edited ? " *" : ""), bold: edited))
            out += words(b, x: 90, y: y)
            if let a = after?[l] { out += words(a, x: 90 + column, y: y) }
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    func words(_ s: Sense, x: Double, y: Double) -> [String] {
        func cells(_ ws: [Word], _ sign: String, _ color: String, _ dy: Double) -> [String] {
            [text(x, y + dy, sign, color: color)]
                + ws.enumerated().map { k, w in
                    text(
                        x + 16 + Double(k) * 150, y + dy, Self.visible(w.token) + String(format: " %.2f", w.score),
                        color: color)
                }
        }
        return cells(s.top, "+", "#1a7f37", 14) + cells(s.bottom, "−", "#b3261e", 32)
    }

    func text(_ x: Double, _ y: Double, _ s: String, bold: Bool = false, color: String? = nil) -> String {
        "<text x=\"\(Int(x))\" y=\"\(Int(y))\"" + (bold ? " font-weight=\"bold\"" : "")
            + (color.map { " fill=\"\($0)\"" } ?? "") + ">\(Self.escapeXML(s))</text>"
    }

    /// XML text: markup escaped, and control characters (invalid in XML) shown as \xNN.
    static func escapeXML(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case _ where u.value < 0x20 || (0x7F...0x9F).contains(u.value): out += String(format: "\\x%02X", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
