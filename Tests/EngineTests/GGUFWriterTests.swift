import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// GGUF written by canonedit reads back: the source's metadata key for key, F32 exactly, F16 and
/// Q8_0 within their rounding.
final class GGUFWriterTests: XCTestCase {
    func testWrittenGGUFReadsBackWithItsMetadataAndValues() throws {
        var b = GGUFBuilder()
        b.string("general.architecture", "llama")
        b.u32("llama.block_count", 1)
        b.strings("tokenizer.ggml.tokens", ["a", "b"])
        b.tensor(
            "x", dims: [2], type: 0, bytes: GGUFBuilder.le(Float(1).bitPattern) + GGUFBuilder.le(Float(2).bitPattern))
        let src = temporaryFolder(self) + "/src.gguf"
        FileManager.default.createFile(atPath: src, contents: b.build())
        let source = try GGUFFile(path: src)
        var rng = SeededRandom(seed: 8)
        let m = Tensor([4, 64], values: randomArray(256, &rng))
        let v = Tensor([64], values: randomArray(64, &rng))
        for type in GGUFWriter.TensorType.allCases {
            let path = temporaryFolder(self) + "/out.gguf"
            try GGUFWriter.write([("blk.0.w", m), ("norm", v)], metadataFrom: source, type: type, to: path)
            let back = try GGUFFile(path: path)
            XCTAssertEqual(back.metadata, source.metadata, "metadata copied verbatim")
            XCTAssertEqual(back.tensorOrder, ["blk.0.w", "norm"])
            let got = try back.tensor("blk.0.w", shape: [4, 64]).array
            let amax = m.array.map(abs).max()!
            let tolerance: Float = type == .f32 ? 0 : type == .f16 ? 2e-3 * amax : amax / 127
            XCTAssertLessThanOrEqual(maxAbsDiff(got, m.array), tolerance, "\(type)")
            XCTAssertEqual(try back.tensor("norm", shape: [64]).array, v.array, "vectors stay F32")
        }
    }

    /// A K-quant tensor whose rows are not whole 256-value blocks (though its total is) is refused
    /// naming the file and tensor: ggml's blocks run along rows, so its rows cannot be decoded.
    func testAKQuantTensorWithRowsOfPartialBlocksIsRefused() throws {
        var b = GGUFBuilder()
        b.string("general.architecture", "llama")
        b.tensor("blk.0.q", dims: [64, 4], type: 12, bytes: Data(repeating: 0, count: 144))  // Q4_K, 4 rows of 64
        let path = temporaryFolder(self) + "/partial.gguf"
        FileManager.default.createFile(atPath: path, contents: b.build())
        XCTAssertThrowsError(try GGUFFile(path: path)) {
            XCTAssertTrue(
                "\($0)".contains(path) && "\($0)".contains("blk.0.q is Q4_K with rows of 64 values, not whole blocks"),
                "\($0)")
        }
    }
}
