import Foundation
import TestSupport
import XCTest

@testable import Engine

/// Split and Replace patterns that repeat a repeating group are refused when a tokenizer.json
/// is read; the patterns real tokenizers use are not.
final class RegexSafetyTests: XCTestCase {
    func testNestedRepeatsAreFoundAndRealPatternsPass() throws {
        let nested = [
            ("(a+)+$", "(a+)+"), ("(a*)*", "(a*)*"), ("x(?:ab+){2,}y", "(?:ab+){2,}"), ("((a)+)+", "((a)+)+"),
            ("(\\s+|b)*", "(\\s+|b)*"), ("([a-z]+\\d){1,}", "([a-z]+\\d){1,}"),
        ]
        for (pattern, found) in nested { XCTAssertEqual(RegexSafety.nestedRepeat(in: pattern), found, pattern) }
        let safe = [
            TextPipeline.llama3Split, TextPipeline.qwen2Split, "(ab)+", "(a+)?", "(a+){1,1}", "[(a+)]+", "\\(a+\\)+",
            "\\s+(?!\\S)|\\s+", "(?i:'s|'t)+", "(a{2})+",
        ]
        for pattern in safe { XCTAssertNil(RegexSafety.nestedRepeat(in: pattern), pattern) }
    }

    /// The pattern that took over 20 s on 43 bytes is refused naming the file, quickly.
    func testATokenizerWithACatastrophicSplitIsRefused() throws {
        let root = try Fixtures.json("tokenizers/metaspace_split.tokenizer.json") as! [String: Any]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
            .replacingOccurrences(of: #""Regex":"\\s+""#, with: #""Regex":"(a+)+$""#)
        XCTAssertTrue(text.contains("(a+)+$"), "the fixture's Split pattern was replaced")
        let path = temporaryFolder(self) + "/tokenizer.json"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: path)) {
            XCTAssertTrue("\($0)".contains(path) && "\($0)".contains("repeats a group that repeats ((a+)+)"), "\($0)")
        }
    }
}
