import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Several edits on one model: two that change the same numbers are refused, or added with
/// `.add` (base + the sum of their changes) for tensors and for LoRA adapters alike.
final class EditStackTests: XCTestCase {
    func session(_ model: CausalLM) -> EditSession {
        EditSession(model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 0)
    }

    /// Edit 1 shifts the final norm and rewrites row 2 of down_proj; edit 2 shifts the norm again
    /// and sets three entries of down_proj, one of them in row 2.
    func twoTensorEdits(_ dir: String) throws -> (first: String, second: String) {
        let m1 = try TinyModels.llama(seed: 8), s1 = session(m1)
        let norm = m1.parameter("model.norm.weight")!, down = m1.parameter("model.layers.0.mlp.down_proj.weight")!
        s1.train(norm)
        s1.train(down, rows: [2])
        for i in 0..<norm.value.count { norm.value[i] += 0.5 }
        for j in 0..<down.value.cols { down.value[2 * down.value.cols + j] += 1 }
        let m2 = try TinyModels.llama(seed: 8), s2 = session(m2)
        let norm2 = m2.parameter(norm.name)!, down2 = m2.parameter(down.name)!
        s2.train(norm2)
        s2.train(down2)
        for i in 0..<norm2.value.count { norm2.value[i] -= 0.125 }
        for i in [1, 2 * down2.value.cols + 3, 40] { down2.value[i] = 9 }
        let first = dir + "/one.safetensors", second = dir + "/two.safetensors"
        _ = try EditArtifact.save(s1, method: "t", basePath: "tiny", ball: nil, epoch: nil, to: first)
        _ = try EditArtifact.save(s2, method: "t", basePath: "tiny", ball: nil, epoch: nil, to: second)
        return (first, second)
    }

    func testTensorEditsThatOverlapAreRefusedOrAdded() throws {
        let (first, second) = try twoTensorEdits(temporaryFolder(self))
        let refusing = EditStack(session: session(try TinyModels.llama(seed: 8)), composition: .refuse)
        try refusing.apply(first, trust: true)
        XCTAssertThrowsError(try refusing.apply(second, trust: true)) {
            XCTAssertTrue("\($0)".contains("--compose add"), "\($0)")
        }

        let base = try TinyModels.llama(seed: 8)
        let model = try TinyModels.llama(seed: 8)
        let adding = EditStack(session: session(model), composition: .add)
        try adding.apply(first, trust: true)
        try adding.apply(second, trust: true)
        let b = base.parameter("model.norm.weight")!.value, n = model.parameter("model.norm.weight")!.value
        for i in 0..<n.count { XCTAssertEqual(n[i], b[i] + 0.375, accuracy: 1e-6) }
        let bd = base.parameter("model.layers.0.mlp.down_proj.weight")!.value
        let d = model.parameter("model.layers.0.mlp.down_proj.weight")!.value, w = d.cols
        var expected = bd.array
        for j in 0..<w { expected[2 * w + j] += 1 }
        for i in [1, 2 * w + 3, 40] { expected[i] += 9 - bd[i] }
        for i in 0..<d.count { XCTAssertEqual(d[i], expected[i], accuracy: 1e-5, "entry \(i)") }
        adding.session.revert()
        XCTAssertEqual(model.parameter("model.norm.weight")!.value.array, b.array, "revert restores the base")
    }

    func testTheSameLoRAEditAddedTwiceDoublesItsChange() throws {
        let dir = temporaryFolder(self)
        let m = try TinyModels.llama(seed: 9), s = session(m)
        var rng = SeededRandom(seed: 3)
        let a = try s.attachLowRank(module: "model.layers.1.self_attn.v_proj", rank: 2, scale: 0.5)
        for p in [a.A, a.B] { for i in 0..<p.value.count { p.value[i] = Float(rng.normal()) * 0.3 } }
        let path = dir + "/lora.safetensors"
        _ = try EditArtifact.save(s, method: "lora", basePath: "tiny", ball: nil, epoch: nil, to: path)

        // Expected: W + 2 · scale · B A, written into the weight of a plain model.
        let lm = LoadedModel(model: m, tokenizer: TinyModels.byteTokenizer(), path: "tiny", name: "tiny")
        let merged = EditExport.mergedValues(lm)
        let reference = try TinyModels.llama(seed: 9)
        for p in reference.parameters {
            let once = merged(m.parameter(p.name)!)
            for i in 0..<p.value.count { p.value[i] = 2 * once[i] - p.value[i] }
        }
        let twice = try TinyModels.llama(seed: 9)
        let stack = EditStack(session: session(twice), composition: .add)
        try stack.apply(path, trust: true)
        try stack.apply(path, trust: true)
        let ids: [Int32] = [72, 101, 108, 108, 111]
        let got = try Scoring.lastLogits(twice, ids: ids), want = try Scoring.lastLogits(reference, ids: ids)
        XCTAssertLessThan(maxAbsDiff(got, want), 1e-4)
        let once = try TinyModels.llama(seed: 9)
        _ = try EditArtifact.apply(path, to: session(once), trust: true)
        XCTAssertGreaterThan(maxAbsDiff(try Scoring.lastLogits(once, ids: ids), want), 1e-3, "twice is not once")
    }
}
