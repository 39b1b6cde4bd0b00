import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Prompts batched by length give each prompt the logits it gets alone: the greedy next tokens
/// locality compares are those of one pass per prompt.
final class NextTokenBatchTests: XCTestCase {
    func testBatchedNextTokensMatchOnePromptAtATime() throws {
        let model = try TinyModels.llama(seed: 5, layers: 2)
        var rng = SeededRandom(seed: 3)
        let V = UInt64(model.vocabSize)
        // Lengths 1 to 9 (some equal), in no order, and one longer than the context.
        var prompts = [4, 1, 9, 4, 7, 2, 9, 5].map { n in (0..<n).map { _ in Int32(rng.next() % V) } }
        prompts.append((0..<(model.contextLength + 3)).map { _ in Int32(rng.next() % V) })
        let budget = SequenceScorer.tokenBudget
        defer { SequenceScorer.tokenBudget = budget }
        for b in [budget, 12] {  // one batch for the short ones, then several
            SequenceScorer.tokenBudget = b
            let batched = try Scoring.nextTokens(model, prompts: prompts)
            for (i, p) in prompts.enumerated() {
                let alone = try Scoring.lastLogits(model, ids: Array(p.suffix(model.contextLength)))
                XCTAssertEqual(batched[i], Scoring.argmax(alone), "prompt \(i) (\(p.count) tokens), budget \(b)")
            }
        }
        // The logits differ between prompts, so the comparison is not vacuous.
        XCTAssertGreaterThan(Set(try Scoring.nextTokens(model, prompts: prompts)).count, 2)
    }
}
