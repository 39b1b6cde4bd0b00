import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Frozen weights kept in their stored format (Q4_1 in SmolLM2's GGUF; F16 and BF16 safetensors)
/// give the numbers of the same weights decoded to fp32: logits, loss and gradients, through the
/// fused kernel (few rows) and the panel path (many rows).
final class StoredWeightsTests: XCTestCase {
    /// Logits of every row and the gradient of the final norm (which reaches it through every
    /// stored matrix's input gradient), for a batch of `B` rows of `T` tokens.
    func run(_ model: CausalLM, B: Int, T: Int) throws -> (logits: [Float], grad: [Float], loss: Double) {
        let ids = (0..<(B * T)).map { Int32(($0 * 7919 + 13) % min(model.vocabSize, 5000)) }
        let rows = LogitRows(rows: Array(0..<(B * T)))
        try model.run(tokens: ids, B: B, T: T, head: rows, train: false)
        let norm = model.parameters.last { $0.value.shape.count == 1 }!
        model.setTrainable(false)
        norm.requiresGrad = true
        norm.dropGrad()
        let head = TokenNLL(nextTokensOf: ids, B: B, T: T)
        try model.run(tokens: ids, B: B, T: T, head: head, train: true)
        norm.requiresGrad = false
        return (rows.logits, norm.grad!.array, head.nll.reduce(0.0) { $0 + Double($1) })
    }

    func compare(_ stored: CausalLM, _ decoded: CausalLM, _ what: String) throws {
        XCTAssertTrue(stored.linears.contains { !$0.weight.value.isMaterialized }, "\(what): weights stay stored")
        for p in decoded.parameters { _ = p.value.data }
        for (B, T) in [(1, 9), (4, 12)] {  // 9 rows: the fused kernel; 48 rows: decoded panels and sgemm
            let a = try run(stored, B: B, T: T), b = try run(decoded, B: B, T: T)
            let scale = b.logits.map(abs).max()!, gScale = b.grad.map(abs).max()!
            XCTAssertLessThan(maxAbsDiff(a.logits, b.logits), 1e-5 * scale, "\(what) \(B)×\(T) logits")
            XCTAssertLessThan(maxAbsDiff(a.grad, b.grad), 1e-5 * gScale, "\(what) \(B)×\(T) gradient")
            XCTAssertEqual(a.loss, b.loss, accuracy: 1e-5 * abs(b.loss), "\(what) \(B)×\(T) loss")
        }
        XCTAssertTrue(stored.linears.contains { !$0.weight.value.isMaterialized }, "\(what): still stored after")
    }

    /// With one thread and with two (decoding split over rows forward, over columns backward).
    func testSmolLM2Q4_1WeightsKeptStored() throws {
        let before = Blas.threads
        defer { Blas.setThreads(before) }
        for threads in [1, 2] {
            Blas.setThreads(threads)
            try compare(
                try ModelStore.load("smollm2").model, try ModelStore.load("smollm2").model,
                "SmolLM2 Q4_1, \(threads) threads")
        }
    }

    func testF16AndBF16SafetensorsKeptStored() throws {
        let src = Fixtures.folder + "/zoo/llama"
        let lm = try ModelStore.load(src)
        for dtype in ["F16", "BF16"] {
            let dir = temporaryFolder(self)
            for f in ["config.json", "tokenizer.json"] {
                try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir + "/" + f)
            }
            try Self.writeHalf(
                lm.model.parameters.map { ($0.name, $0.value) }, dtype: dtype, to: dir + "/model.safetensors")
            try compare(try ModelStore.load(dir).model, try ModelStore.load(dir).model, "tiny Llama \(dtype)")
        }
    }

    /// A safetensors file with every tensor in F16 or BF16 (BF16: the top half of each float).
    static func writeHalf(_ tensors: [(String, Tensor)], dtype: String, to path: String) throws {
        var header: [String: Any] = [:], body = Data()
        for (name, t) in tensors {
            let begin = body.count
            for i in 0..<t.count {
                let bits: UInt16 =
                    dtype == "F16" ? Float16(t[i]).bitPattern : UInt16(truncatingIfNeeded: t[i].bitPattern >> 16)
                body.append(contentsOf: [UInt8(bits & 0xFF), UInt8(bits >> 8)])
            }
            header[name] = ["dtype": dtype, "shape": t.shape, "data_offsets": [begin, body.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        try (out + json + body).write(to: URL(fileURLWithPath: path))
    }
}
