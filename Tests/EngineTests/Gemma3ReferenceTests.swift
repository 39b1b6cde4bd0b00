import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Gemma 3 270M (the real Q4_K_M GGUF) against transformers reading the same file
/// (Fixtures/gemma3/make_fixture.py): its SentencePiece tokenizer on hard strings, every logit
/// of three prompts, a paragraph's per-token NLLs and a greedy continuation.
final class Gemma3ReferenceTests: XCTestCase {
    func reference() throws -> [String: Any] { try Fixtures.json("gemma3/reference.json") as! [String: Any] }

    func testTokenizerMatchesTransformersOnHardStrings() throws {
        let tok = try Fixtures.gemma3().tokenizer
        let cases = try Fixtures.json("gemma3/tokenizer.json") as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 16)
        for c in cases {
            let text = c["text"] as! String, ids = (c["ids"] as! [Int]).map(Int32.init)
            XCTAssertEqual(tok.startOfText(text), ids, "ids of \(text.debugDescription)")
            XCTAssertEqual(tok.decode(ids), c["decoded"] as? String, "decoding \(text.debugDescription)")
        }
    }

    func testLastLogitsOfThreePrompts() throws {
        let lm = try Fixtures.gemma3()
        for (i, p) in (try reference()["prompts"] as! [[String: Any]]).enumerated() {
            let ids = (p["ids"] as! [Int]).map(Int32.init)
            XCTAssertEqual(lm.tokenizer.startOfText(p["text"] as! String), ids)
            let ours = try Scoring.lastLogits(lm.model, ids: ids)
            let d = maxAbsDiff(ours, try Fixtures.npy("gemma3/prompt\(i)_last_logits.npy").values)
            XCTAssertLessThan(d, 1e-3, "prompt \(i): max |logit difference| \(d) over \(ours.count)")
            XCTAssertEqual(Int(Scoring.argmax(ours)), p["argmax"] as! Int, "prompt \(i) argmax")
        }
    }

    func testParagraphPerTokenNLLAndGreedyContinuation() throws {
        let lm = try Fixtures.gemma3()
        let ref = try reference()
        let para = ref["paragraph"] as! [String: Any]
        let ids = (para["ids"] as! [Int]).map(Int32.init)
        let nll = try Scoring.tokenNLL(lm.model, ids: ids)
        let d = maxAbsDiff(nll, (para["nll"] as! [Double]).map(Float.init))
        XCTAssertLessThan(d, 1e-4, "max per-token NLL difference \(d) over \(nll.count) tokens")
        let greedy = ref["greedy"] as! [String: Any]
        let out = try Scoring.generate(
            lm.model, prompt: lm.tokenizer.startOfText(greedy["prompt"] as! String), maxTokens: 8)
        XCTAssertEqual(out, (greedy["ids"] as! [Int]).map(Int32.init), lm.tokenizer.decode(out))
    }
}
