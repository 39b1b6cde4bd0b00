import Foundation
import TestSupport
import XCTest

@testable import Experiments
@testable import Setting
@testable import Support

/// The report's figures: error bars, a zero line, ticks at round values, titles, and no label
/// drawn over another, even with long method names; PDF and PNG copies through rsvg-convert.
final class FigureTests: XCTestCase {
    struct Box { let x0, y0, x1, y1: Double; let text: String }

    /// The text elements of an SVG with their estimated boxes.
    func textBoxes(_ svg: String) -> [Box] {
        let re = try! NSRegularExpression(
            pattern:
                #"<text class="([a-z-]+)" x="([-\d.]+)" y="([-\d.]+)" font-size="([\d.]+)" text-anchor="(\w+)"( transform="[^"]*")?[^>]*>([^<]*)</text>"#
        )
        return re.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).compactMap { m in
            func g(_ i: Int) -> String { Range(m.range(at: i), in: svg).map { String(svg[$0]) } ?? "" }
            guard g(6).isEmpty else { return nil }  // rotated axis titles sit apart, left of everything
            let (x, y, size) = (Double(g(2))!, Double(g(3))!, Double(g(4))!)
            let text = g(7).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&lt;", with: "<")
            let w = SVGFigure.textWidth(text, size: size)
            let x0 = g(5) == "end" ? x - w : g(5) == "middle" ? x - w / 2 : x
            return Box(x0: x0, y0: y - size, x1: x0 + w, y1: y + size * 0.25, text: text)
        }
    }

    func rows() -> [SweepReport.Row] {
        var out: [SweepReport.Row] = []
        for (task, base) in [("country_capital", 0.03), ("company_ceo", -0.014)] {
            for (k, method) in ["lora", "full", "a_method_with_a_rather_long_identifier"].enumerated() {
                for (j, ball) in Ball.paper.enumerated() {
                    out.append(
                        .init(
                            task: task, method: method, ball: ball.key, initial: 0.3, success: 0.3 + base,
                            change: base * Double(3 - j) / Double(k + 1), stderr: 1.3, hard_negative_change: nil,
                            seeds: 3))
                }
            }
        }
        return out
    }

    func testTheBallFigureHasErrorBarsRoundTicksAndNoOverlappingLabels() throws {
        let dir = temporaryFolder(self)
        let names = [
            "lora": "LoRA", "full": "Full finetuning",
            "a_method_with_a_rather_long_identifier": "A third-party method with a long display name",
        ]
        var notes: [String] = []
        let files = try SweepReport.write(rows(), folder: dir, names: names) { notes.append($0) }
        let svg = try String(contentsOfFile: dir + "/report/success-change.svg", encoding: .utf8)
        XCTAssertGreaterThanOrEqual(svg.components(separatedBy: "class=\"errorbar\"").count - 1, 3 * 3 * 3 * 3)
        XCTAssertTrue(svg.contains("class=\"zero\""))
        XCTAssertTrue(svg.contains("Δ success (percentage points)") && svg.contains("degradation ball ε"))
        XCTAssertTrue(svg.contains(">A third-party method with a long display name<"), "legend uses display names")
        XCTAssertTrue(svg.contains("mean over 3 seeds"))
        let ticks = textBoxes(svg).compactMap { Double($0.text.replacingOccurrences(of: "+", with: "")) }
        XCTAssertFalse(ticks.isEmpty)
        let step = Set(ticks).sorted().adjacentPairs().map { $1 - $0 }.min()!
        for t in ticks { XCTAssertEqual((t / step).rounded() * step, t, accuracy: 1e-9, "tick \(t) is not round") }
        XCTAssertTrue([1.0, 2, 5].contains { abs(step / pow(10, floor(log10(step))) - $0) < 1e-9 }, "step \(step)")
        let boxes = textBoxes(svg)
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] {
                let overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
                XCTAssertFalse(overlap, "\"\(a.text)\" overlaps \"\(b.text)\"")
            }
        }
        if Rasterizer.tool != nil {
            XCTAssertTrue(files.contains(dir + "/report/success-change.pdf"))
            XCTAssertTrue(files.contains(dir + "/report/success-change.png"))
            let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/report/success-change.png"))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        } else {
            XCTAssertEqual(notes.first?.contains("rsvg-convert not found"), true)
        }
    }

    func testTicksCoverEveryValue() {
        for (lo, hi) in [(0.0, 5.56), (-1.4, 15.3), (-0.013, 0.002), (0, 0.5)] {
            let t = NiceTicks.ticks(lo, hi)
            XCTAssertLessThanOrEqual(t.first!, lo, "\(t)")
            XCTAssertGreaterThanOrEqual(t.last!, hi, "\(t)")
        }
    }

    func testOneSeedPrintsNotAvailableInsteadOfAZeroError() throws {
        let dir = temporaryFolder(self)
        let one = rows().map { r -> SweepReport.Row in
            var r = r; r.seeds = 1; r.stderr = 0; return r
        }
        _ = try SweepReport.write(one, folder: dir)
        let md = try String(contentsOfFile: dir + "/report/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("± n/a"), md)
        XCTAssertFalse(md.contains("± 0.0"))
        let svg = try String(contentsOfFile: dir + "/report/success-change.svg", encoding: .utf8)
        XCTAssertFalse(svg.contains("class=\"errorbar\""))
    }

    func testTheTradeoffFigureMarksEachBall() throws {
        let stats = [3.0, 3.00001, 3.0002, 3.0025, 3.0031].enumerated().map {
            EpochFigures(intervention: 0.7 - 0.05 * Double($0), general: $1)
        }
        let svg = TradeoffFigure.svg(stats, title: "a run")
        XCTAssertEqual(svg.components(separatedBy: "class=\"ball-cut\"").count - 1, 3)
        XCTAssertEqual(svg.components(separatedBy: "class=\"ring\"").count - 1, 3)
        XCTAssertTrue(svg.contains(">ε = 1e-4<"))
        // Every label inside the figure.
        let width = Double(svg.components(separatedBy: "width=\"")[1].split(separator: "\"")[0])!
        for b in textBoxes(svg) {
            XCTAssertLessThanOrEqual(b.x1, width, b.text); XCTAssertGreaterThanOrEqual(b.x0, 0, b.text)
        }
    }
}

extension Array {
    func adjacentPairs() -> [(Element, Element)] { count < 2 ? [] : (1..<count).map { (self[$0 - 1], self[$0]) } }
}
