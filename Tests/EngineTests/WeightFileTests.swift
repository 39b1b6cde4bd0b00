import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Builds small GGUF files byte by byte, independently of the reader.
struct GGUFBuilder {
    var kvs: [(String, UInt32, Data)] = []
    var tensors: [(String, [UInt64], UInt32, Data)] = []
    var version: UInt32 = 3

    static func le<T: FixedWidthInteger>(_ v: T) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func str(_ s: String) -> Data { le(UInt64(s.utf8.count)) + Data(s.utf8) }

    mutating func string(_ k: String, _ v: String) { kvs.append((k, 8, Self.str(v))) }
    mutating func u32(_ k: String, _ v: UInt32) { kvs.append((k, 4, Self.le(v))) }
    mutating func strings(_ k: String, _ v: [String]) {
        kvs.append((k, 9, Self.le(UInt32(8)) + Self.le(UInt64(v.count)) + v.reduce(Data()) { $0 + Self.str($1) }))
    }
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, bytes: Data) {
        tensors.append((name, dims, type, bytes))
    }

    func build() -> Data {
        var d = Data("GGUF".utf8) + Self.le(version) + Self.le(UInt64(tensors.count)) + Self.le(UInt64(kvs.count))
        for (k, t, v) in kvs { d += Self.str(k) + Self.le(t) + v }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for t in tensors { offsets.append(offset); offset += UInt64((t.3.count + 31) / 32 * 32) }
        for (i, t) in tensors.enumerated() {
            d +=
                Self.str(t.0) + Self.le(UInt32(t.1.count)) + t.1.reduce(Data()) { $0 + Self.le($1) } + Self.le(t.2)
                + Self.le(offsets[i])
        }
        while d.count % 32 != 0 { d.append(0) }
        for (i, t) in tensors.enumerated() {
            var b = t.3
            // pad between tensors, not after the last, so every cut of the file loses real bytes
            while i < tensors.count - 1, b.count % 32 != 0 { b.append(0) }
            d += b
        }
        return d
    }
}

final class WeightFileTests: XCTestCase {
    var rng = SeededRandom(seed: 5)

    func half(_ f: Float) -> Data { GGUFBuilder.le(Float16(f).bitPattern) }

    /// A file with one tensor of each supported type, and the values each should decode to.
    func sample() -> (Data, [String: [Float]]) {
        var b = GGUFBuilder()
        b.string("general.architecture", "test")
        b.u32("general.alignment", 32)
        b.strings("tokenizer.ggml.tokens", ["a", "b"])
        var expected: [String: [Float]] = [:]
        let f32 = randomArray(6, &rng)
        b.tensor("f32", dims: [3, 2], type: 0, bytes: f32.reduce(Data()) { $0 + GGUFBuilder.le($1.bitPattern) })
        expected["f32"] = f32
        let f16 = randomArray(4, &rng).map { Float(Float16($0)) }
        b.tensor("f16", dims: [4], type: 1, bytes: f16.reduce(Data()) { $0 + half($1) })
        expected["f16"] = f16
        // Q8_0: one block, scale 0.5, q = -16...15
        var q8 = half(0.5)
        var q8v: [Float] = []
        for j in 0..<32 { let q = Int8(j - 16); q8.append(UInt8(bitPattern: q)); q8v.append(0.5 * Float(q)) }
        b.tensor("q8", dims: [32], type: 8, bytes: q8)
        expected["q8"] = q8v
        // Q4_1: two blocks; byte j holds value j (low nibble) and value j+16 (high nibble)
        var q41 = Data(), q41v: [Float] = []
        for blk in 0..<2 {
            let d: Float = 0.25 * Float(blk + 1), m: Float = -1.5
            q41 += half(d) + half(m)
            var vals = [Float](repeating: 0, count: 32)
            for j in 0..<16 {
                let lo = UInt8((j + blk) % 16), hi = UInt8((15 - j) % 16)
                q41.append(lo | hi << 4)
                vals[j] = d * Float(lo) + m
                vals[j + 16] = d * Float(hi) + m
            }
            q41v += vals
        }
        b.tensor("q41", dims: [32, 2], type: 3, bytes: q41)
        expected["q41"] = q41v
        return (b.build(), expected)
    }

    func write(_ d: Data, _ name: String) -> String {
        let p = temporaryFolder(self) + "/" + name
        FileManager.default.createFile(atPath: p, contents: d)
        return p
    }

    func testGGUFDecodesEveryType() throws {
        let (data, expected) = sample()
        let g = try GGUFFile(path: write(data, "a.gguf"))
        XCTAssertEqual(g.metadata["general.architecture"]?.string, "test")
        XCTAssertEqual(g.metadata["tokenizer.ggml.tokens"]?.array?.count, 2)
        XCTAssertEqual(g.shape(of: "f32"), [2, 3], "dims are stored fastest-first")
        XCTAssertEqual(g.shape(of: "q41"), [2, 32])
        for (name, values) in expected {
            let t = Tensor(g.shape(of: name)!)
            try g.load(name, into: t)
            XCTAssertEqual(t.array, values, name)
        }
    }

    func testGGUFEveryTruncationIsAnError() throws {
        let (data, _) = sample()
        let dir = temporaryFolder(self)
        for cut in stride(from: 0, to: data.count, by: 7) {
            let p = dir + "/cut\(cut).gguf"
            FileManager.default.createFile(atPath: p, contents: data.prefix(cut))
            do {
                let g = try GGUFFile(path: p)
                // Headers may survive a cut inside the data; then loading must fail cleanly.
                for n in g.tensorNames { try g.load(n, into: Tensor(g.shape(of: n)!)) }
                XCTFail("cut at \(cut) of \(data.count) bytes was accepted")
            } catch let e as CanonEditError {
                XCTAssertTrue(e.message.hasPrefix(p), "message names the file: \(e.message)")
            }
        }
    }

    func testGGUFRejectsLies() throws {
        func expectError(_ b: GGUFBuilder, _ fragment: String, line: UInt = #line) {
            let p = write(b.build(), "x.gguf")
            XCTAssertThrowsError(try GGUFFile(path: p), line: line) {
                XCTAssertTrue("\($0)".contains(fragment), "\($0)", line: line)
            }
        }
        var b = GGUFBuilder()
        b.tensor("t", dims: [32], type: 99, bytes: Data(count: 128))
        expectError(b, "ggml type 99")
        b = GGUFBuilder()
        b.tensor("t", dims: [1, 1, 1, 1, 1], type: 0, bytes: Data(count: 4))
        expectError(b, "5 dimensions")
        b = GGUFBuilder()
        b.version = 1
        expectError(b, "version 1")
        b = GGUFBuilder()
        b.tensor("t", dims: [1 << 20, 1 << 20], type: 0, bytes: Data(count: 4))
        expectError(b, "needs bytes")
        // an array that claims more elements than the file holds
        var raw = Data("GGUF".utf8) + GGUFBuilder.le(UInt32(3)) + GGUFBuilder.le(UInt64(0)) + GGUFBuilder.le(UInt64(1))
        raw +=
            GGUFBuilder.str("k") + GGUFBuilder.le(UInt32(9)) + GGUFBuilder.le(UInt32(4))
            + GGUFBuilder.le(UInt64(1) << 40)
        XCTAssertThrowsError(try GGUFFile(path: write(raw, "arr.gguf"))) {
            XCTAssertTrue("\($0)".contains("more than the file can hold"))
        }
        XCTAssertThrowsError(try GGUFFile(path: write(Data("GGUX....".utf8), "m.gguf"))) {
            XCTAssertTrue("\($0)".contains("not a GGUF file"))
        }
    }

    func testSafetensorsRoundTripAndDTypes() throws {
        let dir = temporaryFolder(self)
        let a = Tensor([2, 3], values: randomArray(6, &rng)), b = Tensor([4], values: randomArray(4, &rng))
        try SafetensorsWriter.write([("a", a), ("b", b)], to: dir + "/m.safetensors", metadata: ["format": "pt"])
        let f = try SafetensorsFile(path: dir + "/m.safetensors")
        XCTAssertEqual(f.metadata["format"], "pt")
        XCTAssertEqual(try f.tensor("a", shape: [2, 3]).array, a.array)
        try SafetensorsWriter.write([("a", a)], to: dir + "/h.safetensors", dtype: .f16)
        let h = try SafetensorsFile(path: dir + "/h.safetensors").tensor("a", shape: [2, 3]).array
        XCTAssertEqual(h, a.array.map { Float(Float16($0)) })
        // BF16 by hand: the top 16 bits of the fp32 pattern
        let vals: [Float] = [1, -2.5, 0.15625]
        let header = #"{"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}"#
        var d = GGUFBuilder.le(UInt64(header.utf8.count)) + Data(header.utf8)
        for v in vals { d += GGUFBuilder.le(UInt16(v.bitPattern >> 16)) }
        FileManager.default.createFile(atPath: dir + "/b.safetensors", contents: d)
        XCTAssertEqual(try SafetensorsFile(path: dir + "/b.safetensors").tensor("x", shape: [3]).array, vals)
        XCTAssertThrowsError(try f.tensor("a", shape: [3, 2])) {
            XCTAssertTrue("\($0)".contains("has shape [2, 3] but the config implies [3, 2]"))
        }
        XCTAssertThrowsError(try f.tensor("zzz", shape: [1])) { XCTAssertTrue("\($0)".contains("zzz is missing")) }
    }

    func testSafetensorsRejectsLies() throws {
        let dir = temporaryFolder(self)
        func file(_ header: String, data: Int, headerLen: UInt64? = nil) -> String {
            let p = dir + "/\(UUID().uuidString).safetensors"
            FileManager.default.createFile(
                atPath: p,
                contents: GGUFBuilder.le(headerLen ?? UInt64(header.utf8.count)) + Data(header.utf8) + Data(count: data)
            )
            return p
        }
        let cases: [(String, Int, UInt64?, String)] = [
            (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, nil, "fall outside"),
            (#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, nil, "needs 12"),
            (#"{"x":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}}"#, 8, nil, "dtype I8"),
            (#"{"x":{"dtype":"F32","shape":[1]}}"#, 8, nil, "data_offsets"),
            (#"not json"#, 0, nil, "not valid JSON"),
            (#"{}"#, 0, 1 << 40, "exceeds"),
            (#"{}"#, 0, 100, "needs bytes"),
            // 2^32 × 2^32 wraps to 0 in 64 bits: offsets [0, 0] must not pass as "enough data".
            (#"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, 0, nil, "too large"),
            (#"{"x":{"dtype":"F32","shape":[4294967296,4294967297],"data_offsets":[0,0]}}"#, 0, nil, "invalid shape"),
        ]
        for (header, data, len, fragment) in cases {
            XCTAssertThrowsError(try SafetensorsFile(path: file(header, data: data, headerLen: len)), header) {
                XCTAssertTrue("\($0)".contains(fragment), "\(header): \($0)")
            }
        }
    }
}
