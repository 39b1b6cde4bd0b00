import TestSupport
import XCTest

@testable import Engine
@testable import Support

final class TokenizerTests: XCTestCase {
    func testPreTokenizerFollowsTheGPT2Pattern() {
        let p = PreTokenizer()
        XCTAssertEqual(p.split("Hello world"), ["Hello", " world"])
        XCTAssertEqual(p.split("it's 2024!!"), ["it", "'s", " 2024", "!!"])
        XCTAssertEqual(p.split("a  b"), ["a", " ", " b"], "a space run leaves its last space to the next word")
        XCTAssertEqual(p.split("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(p.split("end   "), ["end", "   "], "trailing whitespace stays one piece")
        XCTAssertEqual(p.split("x -> y"), ["x", " ->", " y"])
        XCTAssertEqual(p.split("naïve café"), ["naïve", " café"])
        XCTAssertEqual(p.split("I'LL"), ["I", "'", "LL"], "contractions are case-sensitive")
        let d = PreTokenizer(individualDigits: true)
        XCTAssertEqual(d.split("in 1969,"), ["in", " ", "1", "9", "6", "9", ","])
    }

    func testByteLevelAlphabetIsABijection() {
        let all = (0..<256).map { UInt8($0) }
        XCTAssertEqual(ByteLevelAlphabet.decode(ByteLevelAlphabet.encode(all)), all)
        XCTAssertEqual(ByteLevelAlphabet.encode([32]), "Ġ")
        XCTAssertEqual(ByteLevelAlphabet.encode([10]), "Ċ")
    }

    /// A toy vocabulary built here: merges apply lowest rank first, specials split out.
    func testMergesAndSpecials() throws {
        var vocab = (0..<256).map { String(ByteLevelAlphabet.byteToScalar[$0]) }
        vocab += ["lo", "low", "Ġlow", "er", "<|x|>"]
        let t = try Tokenizer(
            vocab: vocab, merges: [("l", "o"), ("lo", "w"), ("Ġ", "low"), ("e", "r")],
            specials: ["<|x|>": 260], preTokenizer: PreTokenizer(), source: "toy")
        let ids = t.encode("lower low<|x|>!")
        XCTAssertEqual(ids.map { t.vocab[Int($0)] }, ["low", "er", "Ġlow", "<|x|>", "!"])
        XCTAssertEqual(t.decode(ids), "lower low<|x|>!")
        XCTAssertThrowsError(
            try Tokenizer(
                vocab: vocab, merges: [("q", "z")], specials: [:], preTokenizer: PreTokenizer(), source: "toy")
        ) {
            XCTAssertTrue("\($0)".contains("merge #0"))
        }
    }

    func testSmolLM2RoundTripsArbitraryText() throws {
        let t = try Fixtures.smollm2().tokenizer
        let texts = [
            "", " ", "\t\n  x", "emoji 🙂 and 中文 and e\u{301}", "<|im_start|><|im_end|>", "a<|endoftext|>b",
            "1234567890",
        ]
        for s in texts { XCTAssertEqual(t.decode(t.encode(s)), s, s.debugDescription) }
        XCTAssertEqual(t.encode("<|im_start|>"), [1])
        XCTAssertEqual(t.encode("1234").count, 4, "digits are single tokens")
    }
}

/// Inputs the fuzzer found that once crashed a parser; each must now be a clean error.
final class FuzzRegressionTests: XCTestCase {
    func testNegativeAddedTokenIdIsAnError() {
        let path = Fixtures.folder + "/fuzz/tokenizer-negative-added-id.json"
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: path)) {
            XCTAssertTrue("\($0)".contains("added_tokens[0] has id -56"), "\($0)")
        }
    }

    /// Canonically equivalent spellings are different bytes and different tokens: the piece cache
    /// must not hand one the other's ids (Swift Strings compare them equal).
    func testCanonicallyEquivalentTextKeepsItsOwnBytes() throws {
        let lm = try Fixtures.smollm2()
        let composed = lm.tokenizer.encode("caf\u{E9}"), decomposed = lm.tokenizer.encode("cafe\u{301}")
        XCTAssertNotEqual(composed, decomposed)
        XCTAssertEqual(Array(lm.tokenizer.decode(decomposed).utf8), Array("cafe\u{301}".utf8))
        XCTAssertEqual(Array(lm.tokenizer.decode(composed).utf8), Array("caf\u{E9}".utf8))
    }
}
