import Foundation
import TestSupport
import XCTest

@testable import Engine

/// Every ggml type canonedit decodes, block by block, against the `gguf` Python package's
/// reference dequantizer on random blocks (Fixtures/quants/make_fixture.py).
final class QuantizationTests: XCTestCase {
    func testEveryTypeDecodesAsTheReferenceDoes() throws {
        let file = try GGUFFile(path: Fixtures.folder + "/quants/blocks.gguf")
        let types = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
        XCTAssertEqual(Set(file.tensorNames.filter { !$0.hasSuffix(".expected") }), Set(types))
        for name in types {
            let shape = try XCTUnwrap(file.shape(of: name))
            let got = Tensor(shape), expected = Tensor(shape)
            try file.load(name, into: got)
            try file.load(name + ".expected", into: expected)
            var worst: Float = 0
            for i in 0..<got.count {
                worst = max(worst, abs(got[i] - expected[i]) / max(abs(expected[i]), 1e-3))
            }
            XCTAssertLessThan(worst, 1e-6, "\(name): largest relative difference from gguf.quants.dequantize")
            XCTAssertGreaterThan(expected.array.map(abs).max()!, 0, name)
        }
    }

    func testATypeCanonEditDoesNotReadIsNamedInTheError() throws {
        XCTAssertNil(GGMLType.of(16), "IQ2_XXS is not read")
        XCTAssertEqual(GGMLType.of(12)?.byteCount(512), 288)
        XCTAssertNil(GGMLType.of(12)?.byteCount(100), "not whole super-blocks")
    }
}
