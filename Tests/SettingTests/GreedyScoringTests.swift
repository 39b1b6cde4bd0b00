import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// The second scoring protocol: an example succeeds by greedy decoding when the model's greedy
/// continuation of its prompt begins with the target. It is read off the scoring pass (every
/// target token the argmax after the prompt and the earlier target tokens); here it is checked
/// against real greedy generation with the key/value cache.
final class GreedyScoringTests: XCTestCase {
    func testGreedySuccessIsWhatGreedyGenerationEmits() throws {
        let model = try TinyModels.llama(seed: 5), tok = TinyModels.byteTokenizer()
        let prompts = ["Cap of Ab is", "The cap of Cd", "Ef: cap", "a b c d", "Gh has"]
        var examples: [Example] = []
        for (i, p) in prompts.enumerated() {
            // Half the targets are the model's own greedy continuation, half another text.
            let ids = tok.encode(p)
            let greedy = try Scoring.generate(model, prompt: ids, maxTokens: 3)
            let suffix = i % 2 == 0 ? tok.decode(greedy) : " zz"
            examples.append(Example(prefix: p, suffix: suffix, suffix2: nil, subject: nil, line: i + 1))
        }
        for loss in [LossType.good, .bad] {
            let set = InterventionSet(examples, tokenizer: tok, lossType: loss, threshold: 1)
            let (_, _, flags) = try set.scores(model)
            var expected: [Bool] = []
            for e in examples {
                let target = tok.encode(e.suffix)
                let out = try Scoring.generate(model, prompt: tok.encode(e.prefix), maxTokens: target.count)
                expected.append(out == target)
            }
            XCTAssertEqual(flags, expected, "\(loss)")
            XCTAssertTrue(expected.contains(true) && expected.contains(false), "both kinds are present")
            let hits = Double(expected.filter { $0 }.count) / Double(expected.count)
            XCTAssertEqual(set.greedySuccess(flags)!, loss == .bad ? 1 - hits : hits, accuracy: 1e-12)
        }
        let pairs = InterventionSet(
            examples.map { Example(prefix: $0.prefix, suffix: " he", suffix2: " she", subject: nil, line: $0.line) },
            tokenizer: tok, lossType: .balance, threshold: 1)
        XCTAssertNil(pairs.greedySuccess(try pairs.scores(model).greedy), "a ratio of likelihoods has no decoding")
    }
}
