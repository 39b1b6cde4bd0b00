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
}
