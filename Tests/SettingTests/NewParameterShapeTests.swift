import TestSupport
import XCTest

@testable import Engine
@testable import Setting

/// A plugin's new_param shape whose element count overflows Int is refused, not trapped on.
final class NewParameterShapeTests: XCTestCase {
    func testOverflowingShapesAreRefused() throws {
        let model = try TinyModels.llama(seed: 3)
        let session = EditSession(
            model: model, tokenizer: TinyModels.byteTokenizer(), records: [], lossType: .good, seed: 1)
        for shape in [[1 << 20, 1 << 20, 1 << 20, 1 << 20], [Int.max, 2], [1 << 16, 1 << 16], [0, 3], [-1]] {
            XCTAssertThrowsError(try session.newParameter("t\(shape.count)\(shape[0])", shape: shape)) {
                XCTAssertTrue("\($0)".contains("at most 2^31 values"), "\($0)")
            }
        }
        XCTAssertEqual(try session.newParameter("fine", shape: [4, 8]).value.count, 32)
    }
}
