import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Edit files store what changed, whatever its size: whole tensors, trained rows as rows, and
/// a few changed entries as indices and values; applying one restores exactly those values.
final class EditArtifactStorageTests: XCTestCase {
    func testWholeRowsAndSparseChangesRoundTrip() throws {
        let model = try TinyModels.llama(seed: 5)
        let tok = TinyModels.byteTokenizer()
        let s = EditSession(model: model, tokenizer: tok, examples: [], lossType: .good, seed: 0)
        let whole = model.parameter("model.norm.weight")!
        let rows = model.parameter("model.layers.0.mlp.down_proj.weight")!
        let sparse = model.parameter("model.layers.1.mlp.up_proj.weight")!
        let untouched = model.parameter("model.layers.1.mlp.gate_proj.weight")!
        s.train(whole)
        s.train(rows, rows: [3, 1])
        s.train(sparse)
        s.train(untouched)
        for i in 0..<whole.value.count { whole.value[i] += 0.25 }
        let width = rows.value.cols
        for r in [1, 3] { for j in 0..<width { rows.value[r * width + j] = Float(r * 100 + j) } }
        for i in [2, 17, 40] { sparse.value[i] = -7 }
        let path = temporaryFolder(self) + "/e.safetensors"
        let bytes = try EditArtifact.save(s, method: "test", basePath: "tiny", ball: "0.001", epoch: 1, to: path)
        XCTAssertLessThan(bytes, 4096, "three kinds of small change stay small")

        let (info, _) = try EditArtifact.read(path)
        XCTAssertEqual(info.format, "canonedit.edit/2")
        XCTAssertEqual(info.tensors, ["model.norm.weight"])
        XCTAssertEqual(info.rows, [.init(name: rows.name, rows: [1, 3])])
        XCTAssertEqual(info.sparse, [sparse.name], "the unchanged tensor is not stored")

        let fresh = try TinyModels.llama(seed: 5)
        let s2 = EditSession(model: fresh, tokenizer: tok, examples: [], lossType: .good, seed: 0)
        _ = try EditArtifact.apply(path, to: s2, trust: true)
        for p in [whole, rows, sparse, untouched] {
            XCTAssertEqual(fresh.parameter(p.name)!.value.array, p.value.array, p.name)
        }
        s2.revert()
        XCTAssertEqual(fresh.parameter(whole.name)!.value.array, s.original(of: whole)!.array, "revert restores")
    }

    /// Sparse while fewer than a third of the entries differ (bit patterns: -0 differs from 0),
    /// whole from a third on; the changed entries listed in order.
    func testSparseUpToAThirdOfTheEntries() throws {
        let model = try TinyModels.llama(seed: 5)
        let s = EditSession(model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 0)
        let p = model.parameter("model.layers.1.mlp.up_proj.weight")!
        s.train(p)
        let n = p.value.count, third = (n + 2) / 3
        let o = s.original(of: p)!
        // Spread over the tensor, last entry included, so no part of the scan is skipped.
        let changed = (0..<(third - 1)).map { n - 1 - $0 * 3 }.sorted()
        for i in changed { p.value[i] = o[i] == 0 ? -0.0 : -o[i] }
        guard case .sparse(let ix, let values) = EditArtifact.storage(of: p, in: s) else {
            return XCTFail("\(third - 1) of \(n) changed: sparse")
        }
        XCTAssertEqual(ix, changed.map(Int64.init))
        XCTAssertEqual(values.array.map(\.bitPattern), changed.map { p.value[$0].bitPattern })
        p.value[1] = o[1] + 1
        guard case .whole = EditArtifact.storage(of: p, in: s) else { return XCTFail("a third changed: whole") }
        p.value.copy(from: o)
        guard case .unchanged = EditArtifact.storage(of: p, in: s) else { return XCTFail("nothing changed") }
    }

    func testHalfPrecisionEditsStoreRoundedValues() throws {
        let model = try TinyModels.llama(seed: 6)
        let s = EditSession(model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 0)
        let p = model.parameter("model.layers.0.self_attn.q_proj.weight")!
        s.train(p)
        for i in 0..<p.value.count { p.value[i] += 0.001 * Float(i % 7) + 0.0001 }
        let dir = temporaryFolder(self)
        let full = try EditArtifact.save(s, method: "t", basePath: "t", ball: nil, epoch: nil, to: dir + "/32")
        let half = try EditArtifact.save(
            s, method: "t", basePath: "t", ball: nil, epoch: nil, to: dir + "/16", dtype: .f16)
        XCTAssertLessThan(half, full)
        let fresh = try TinyModels.llama(seed: 6)
        _ = try EditArtifact.apply(
            dir + "/16",
            to: EditSession(
                model: fresh, tokenizer: TinyModels.byteTokenizer(), examples: [],
                lossType: .good, seed: 0), trust: true)
        XCTAssertEqual(fresh.parameter(p.name)!.value.array, p.value.roundedToHalf().array)
    }
}
