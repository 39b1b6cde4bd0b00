import Foundation
import TestSupport
import XCTest

@testable import Engine

/// Recomputing block activations in backward gives the gradients of keeping them, bit for bit:
/// the block runs again on the same saved input with the same kernels.
final class RecomputeActivationsTests: XCTestCase {
    /// Loss and every trained parameter's gradient of one training pass.
    func gradients(
        _ model: DecoderLM, recompute: Bool, B: Int, T: Int, adapters: [Parameter] = []
    ) throws -> (Double, [[Float]]) {
        model.recomputeActivations = recompute
        defer { model.recomputeActivations = false }
        let ids = (0..<(B * T)).map { Int32(($0 * 7919 + 13) % min(model.vocabSize, 300)) }
        let trained = model.parameters.filter(\.requiresGrad) + adapters
        for p in trained { p.dropGrad() }
        let head = TokenNLL(nextTokensOf: ids, B: B, T: T)
        try model.run(tokens: ids, B: B, T: T, head: head, train: true)
        let grads = trained.map { $0.grad!.array }
        return (head.nll.reduce(0.0) { $0 + Double($1) }, grads)
    }

    func check(_ model: DecoderLM, _ what: String) throws {
        for (B, T) in [(1, 7), (3, 10)] {
            let kept = try gradients(model, recompute: false, B: B, T: T)
            let again = try gradients(model, recompute: true, B: B, T: T)
            XCTAssertFalse(kept.1.isEmpty, what)
            XCTAssertEqual(kept.0, again.0, "\(what) \(B)×\(T) loss")
            XCTAssertEqual(kept.1, again.1, "\(what) \(B)×\(T) gradients")
            XCTAssertTrue(kept.1.contains { $0.contains { $0 != 0 } }, "\(what): gradients reach the parameters")
        }
    }

    /// Sequential (Llama), parallel blocks (GPT-NeoX, GPT-J), sandwich norms and QK-norm with
    /// sliding windows (Gemma 3), LayerNorm with learned positions (GPT-2): every parameter trained.
    func testEveryArchitectureAllParameters() throws {
        for name in ["llama", "gpt_neox", "gptj", "gemma3", "gpt2"] {
            let model = try ModelStore.load(Fixtures.folder + "/zoo/" + name).model as! DecoderLM
            model.setTrainable(true)
            try check(model, name)
        }
    }

    /// A LoRA adapter on an upper layer: blocks below it are frozen and never saved.
    func testLowRankAdapterAboveAFrozenPrefix() throws {
        let model = try ModelStore.load(Fixtures.folder + "/zoo/llama").model as! DecoderLM
        model.setTrainable(false)
        let lin = model.linears.last { $0.name.hasSuffix("mlp.up_proj") }!
        let adapter = LowRankAdapter(
            name: lin.name, rank: 2, inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, scale: 1)
        for i in 0..<adapter.A.value.count { adapter.A.value[i] = Float(i % 5) * 0.1 - 0.2 }
        for i in 0..<adapter.B.value.count { adapter.B.value[i] = Float(i % 3) * 0.1 - 0.1 }
        lin.slot.adapter = adapter
        for p in [adapter.A, adapter.B] { p.requiresGrad = true }
        defer { lin.slot.adapter = nil }
        let kept = try gradients(model, recompute: false, B: 2, T: 9, adapters: [adapter.A, adapter.B])
        let again = try gradients(model, recompute: true, B: 2, T: 9, adapters: [adapter.A, adapter.B])
        XCTAssertEqual(kept.0, again.0)
        XCTAssertEqual(kept.1, again.1)
        XCTAssertEqual(kept.1.count, 2)
        XCTAssertTrue(kept.1[0].contains { $0 != 0 })
    }
}
