import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// A token NLL without its gradient is taken a panel of vocabulary columns at a time
/// (PanelledNLL): each row's NLL is the log-sum-exp of its whole row of logits, written out here
/// in double, less its target's logit, within 1e-6 relative. Narrow panels that do not divide
/// the vocabulary make a row's maximum rise from panel to panel, and chunks of rows that do not
/// divide the batch start their sums afresh; the head is fp32 (tiny Llama),
/// fp32 with a bias (tiny GPT-J) and stored as quantized blocks (SmolLM2, 49152 words).
final class HeadPanelTests: XCTestCase {
    func check(_ model: CausalLM, panel: Int, _ what: String) throws {
        let (B, T) = (2, 12)
        let ids = (0..<(B * T)).map { Int32(($0 * 7919 + 13) % min(model.vocabSize, 5000)) }
        let all = LogitRows(rows: Array(0..<(B * T)))
        try model.run(tokens: ids, B: B, T: T, head: all, train: false)
        let before = (PanelledNLL.chunkRows, PanelledNLL.panelColumns)
        defer { (PanelledNLL.chunkRows, PanelledNLL.panelColumns) = before }
        // Chunks of 5 rows: the last one shorter, and every chunk starting its sums afresh.
        (PanelledNLL.chunkRows, PanelledNLL.panelColumns) = (5, panel)
        XCTAssertNotEqual(model.vocabSize % panel, 0, "\(what): a last panel narrower than the others")
        let nll = TokenNLL(nextTokensOf: ids, B: B, T: T)
        try model.run(tokens: ids, B: B, T: T, head: nll, train: false)
        for (k, row) in nll.rows.enumerated() {
            let logits = all.row(row)
            let mx = Double(logits.max()!)
            let lse = mx + log(logits.reduce(0.0) { $0 + exp(Double($1) - mx) })
            let want = lse - Double(logits[logits.startIndex + Int(nll.targets[k])])
            XCTAssertEqual(Double(nll.nll[k]), want, accuracy: 1e-6 * abs(want), "\(what): row \(row)")
        }
    }

    func testPanelledNLLIsTheWholeRowsNLL() throws {
        let llama = try ModelStore.load(Fixtures.folder + "/zoo/llama").model
        try check(llama, panel: 7, "tiny Llama")
        let gptj = try ModelStore.load(Fixtures.folder + "/zoo/gptj").model as! DecoderLM
        XCTAssertNotNil(gptj.headBias, "GPT-J's output layer has a bias")
        try check(gptj, panel: 7, "tiny GPT-J")
        let smol = try ModelStore.load("smollm2").model as! DecoderLM
        XCTAssertNotNil(smol.head.value.unmaterialized, "SmolLM2's output layer stays stored")
        try check(smol, panel: 1000, "SmolLM2")
        XCTAssertNotNil(smol.head.value.unmaterialized, "SmolLM2's output layer is still stored: no fp32 copy made")
    }
}
