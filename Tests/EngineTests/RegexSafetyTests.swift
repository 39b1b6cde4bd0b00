import Foundation
import TestSupport
import XCTest

@testable import Engine

/// Split and Replace patterns that repeat a repeating group are found; the patterns real
/// tokenizers use are not (TokenizerFixtureTests: such a tokenizer.json is refused).
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
}
