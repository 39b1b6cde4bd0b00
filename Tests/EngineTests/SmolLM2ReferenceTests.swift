import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// The engine against an independent PyTorch implementation of SmolLM2-135M
/// (figures copied from shared/reference into Fixtures/smollm2).
final class SmolLM2ReferenceTests: XCTestCase {
    func testTokenizerMatchesReferenceIds() throws {
        let lm = try Fixtures.smollm2()
        let prompts = try Fixtures.json("smollm2/prompts.json") as! [[String: Any]]
        for p in prompts {
            let text = p["text"] as! String
            let ids = (p["ids"] as! [Int]).map(Int32.init)
            XCTAssertEqual(lm.tokenizer.encode(text), ids, "token ids of \(text.debugDescription)")
            XCTAssertEqual(lm.tokenizer.decode(ids), text, "round trip of \(text.debugDescription)")
        }
        let para = try Fixtures.json("smollm2/paragraph.json") as! [String: Any]
        XCTAssertEqual(lm.tokenizer.encode(para["text"] as! String), (para["ids"] as! [Int]).map(Int32.init))
    }

    func testLastLogitsOfFivePrompts() throws {
        let lm = try Fixtures.smollm2()
        let prompts = try Fixtures.json("smollm2/prompts.json") as! [[String: Any]]
        for (i, p) in prompts.enumerated() {
            let ids = (p["ids"] as! [Int]).map(Int32.init)
            let ref = try Fixtures.npy("smollm2/prompt\(i)_last_logits.npy").values
            let ours = try Scoring.lastLogits(lm.model, ids: ids)
            let d = maxAbsDiff(ours, ref)
            XCTAssertLessThan(d, 1e-3, "prompt \(i): max |logit difference| \(d)")
            XCTAssertEqual(Int(Scoring.argmax(ours)), p["argmax"] as! Int, "prompt \(i) argmax")
        }
    }

    func testEveryPositionOfPromptZero() throws {
        let lm = try Fixtures.smollm2()
        let ids: [Int32] = [504, 3575, 282, 4649, 314]
        let ref = try Fixtures.npy("smollm2/prompt0_all_logits.npy")
        XCTAssertEqual(ref.shape, [5, 49152])
        let head = LogitRows(rows: Array(0..<5))
        try lm.model.run(tokens: ids, B: 1, T: 5, head: head, train: false)
        XCTAssertLessThan(maxAbsDiff(head.logits, ref.values), 1e-3)
    }

    func testParagraphPerTokenNLL() throws {
        let lm = try Fixtures.smollm2()
        let para = try Fixtures.json("smollm2/paragraph.json") as! [String: Any]
        let ids = (para["ids"] as! [Int]).map(Int32.init)
        let ref = try Fixtures.npy("smollm2/paragraph_nll.npy").values
        let ours = try Scoring.tokenNLL(lm.model, ids: ids)
        XCTAssertEqual(ours.count, 216)
        let d = maxAbsDiff(ours, ref)
        XCTAssertLessThan(d, 1e-4, "max per-token NLL difference \(d)")
        let mean = ours.reduce(0.0) { $0 + Double($1) } / Double(ours.count)
        XCTAssertEqual(mean, 3.088809, accuracy: 1e-4)
    }

    func testBatchedWithPaddingEqualsOneByOne() throws {
        // Two prompts of different lengths in one right-padded batch give the same NLLs
        // at their real positions as each run alone.
        let lm = try Fixtures.smollm2()
        let a: [Int32] = [504, 3575, 282, 4649, 314, 7042]
        let b: [Int32] = [504, 12996, 1137]
        let T = a.count
        let padded = a + b + [Int32](repeating: 0, count: T - b.count)
        var rows: [Int] = [], targets: [Int32] = []
        for t in 0..<(a.count - 1) { rows.append(t); targets.append(a[t + 1]) }
        for t in 0..<(b.count - 1) { rows.append(T + t); targets.append(b[t + 1]) }
        let head = TokenNLL(rows: rows, targets: targets)
        try lm.model.run(tokens: padded, B: 2, T: T, head: head, train: false)
        let alone = try Scoring.tokenNLL(lm.model, ids: a) + Scoring.tokenNLL(lm.model, ids: b)
        XCTAssertLessThan(maxAbsDiff(head.nll, alone), 1e-4)
    }

    func testScoreContinuations() throws {
        let lm = try Fixtures.smollm2()
        let t = lm.tokenizer
        let cases: [(String, String, Double)] = [
            ("The capital of France is", " Paris", -0.258082),
            ("The capital of Mauritius is", " Port Louis", -3.082858),
            ("The nurse said", " she", -4.036368),
            ("The nurse said", " he", -6.095365),
        ]
        for (prefix, suffix, ref) in cases {
            let r = try Scoring.suffixLogProb(lm.model, prefix: t.encode(prefix), suffix: t.encode(suffix))
            XCTAssertEqual(r.sum, ref, accuracy: 1e-3, "log p(\(suffix) | \(prefix))")
        }
    }

    func testGreedyGenerationSaysParis() throws {
        let lm = try Fixtures.smollm2()
        let out = try Scoring.generate(lm.model, prompt: lm.tokenizer.encode("The capital of France is"), maxTokens: 3)
        XCTAssertTrue(lm.tokenizer.decode(out).hasPrefix(" Paris"), "got \(lm.tokenizer.decode(out).debugDescription)")
    }

    func testSameModelFromHuggingFaceFolder() throws {
        // Convert the GGUF to a Hugging Face folder (safetensors, un-permuted q/k rows,
        // half-split rotary) and check both load paths give the same logits.
        let lm = try Fixtures.smollm2()
        let dir = temporaryFolder(self)
        try HuggingFaceExport.write(lm, to: dir)
        let hf = try ModelStore.load(dir)
        let ids: [Int32] = [504, 3575, 282, 22278, 44800, 314]
        let a = try Scoring.lastLogits(lm.model, ids: ids), b = try Scoring.lastLogits(hf.model, ids: ids)
        XCTAssertLessThan(maxAbsDiff(a, b), 1e-3)
        XCTAssertEqual(
            hf.tokenizer.encode("In 1969, naïve — <|im_start|>x"), lm.tokenizer.encode("In 1969, naïve — <|im_start|>x")
        )
    }
}
