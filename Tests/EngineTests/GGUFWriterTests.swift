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

    /// Numeric metadata arrays stay as their file bytes (a 4 MB array of bytes is 4 MB, not an
    /// enum per element) and decode to the same values as before, for every number type.
    func testNumericMetadataArraysStayCompactAndDecode() throws {
        var b = GGUFBuilder()
        b.string("general.architecture", "llama")
        let big = Data((0..<(4 << 20)).map { UInt8($0 % 251) })
        b.kvs.append(("big", 9, GGUFBuilder.le(UInt32(0)) + GGUFBuilder.le(UInt64(big.count)) + big))
        func array<T: FixedWidthInteger>(_ key: String, _ type: UInt32, _ v: [T]) {
            b.kvs.append(
                (
                    key, 9,
                    GGUFBuilder.le(type) + GGUFBuilder.le(UInt64(v.count))
                        + v.reduce(Data()) { $0 + GGUFBuilder.le($1) }
                ))
        }
        array("i8", 1, [Int8(-3), 4])
        array("u16", 2, [UInt16(65535), 7])
        array("i32", 5, [Int32(-70000), 9])
        array("f32", 6, [Float(1.5).bitPattern, Float(-2).bitPattern])
        array("bool", 7, [UInt8(1), 0])
        array("u64", 10, [UInt64(1) << 40])
        array("f64", 12, [Double(0.25).bitPattern])
        let path = temporaryFolder(self) + "/meta.gguf"
        FileManager.default.createFile(atPath: path, contents: b.build())
        let g = try GGUFFile(path: path)
        guard case .numbers(0, let raw) = g.metadata["big"]! else { return XCTFail("a byte array is kept as bytes") }
        XCTAssertEqual(raw, big)
        XCTAssertEqual(g.metadata["big"]?.count, 4 << 20)
        XCTAssertEqual(g.metadata["big"]?.array?[300], .int(Int64(300 % 251)))
        XCTAssertEqual(g.metadata["i8"]?.array, [.int(-3), .int(4)])
        XCTAssertEqual(g.metadata["u16"]?.array, [.int(65535), .int(7)])
        XCTAssertEqual(g.metadata["i32"]?.array, [.int(-70000), .int(9)])
        XCTAssertEqual(g.metadata["f32"]?.array, [.float(1.5), .float(-2)])
        XCTAssertEqual(g.metadata["bool"]?.array, [.bool(true), .bool(false)])
        XCTAssertEqual(g.metadata["u64"]?.array, [.int(1 << 40)])
        XCTAssertEqual(g.metadata["f64"]?.array, [.float(0.25)])
    }
}
