import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// The "canonedit.hooks/1" extension (ABI 1.2) through the C plugin that uses it
/// (Examples/c-plugin/loreft.c), compiled here against the header alone.
final class HookExtensionTests: XCTestCase {
    func loreft(_ defines: [String] = []) throws -> String {
        try buildCPlugin(
            self, defines: defines, name: "libloreft.so", source: repositoryRoot + "/Examples/c-plugin/loreft.c")
    }

    /// A session on the tiny Llama with the hook on block 0 and the intervention made non-trivial.
    func hooked(layer: Int) throws -> (EditSession, PluginMethod) {
        let model = try ModelStore.load(Fixtures.folder + "/zoo/llama").model as! DecoderLM
        let session = EditSession(
            model: model, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 5)
        let method = PluginMethod(
            library: try PluginLibrary(path: try loreft()),
            options: ["reft_layer": .number(Double(layer)), "reft_rank": .number(2)])
        try method.prepare(session)
        var rng = SeededRandom(seed: 8)
        for p in session.methodTensors where !p.name.hasSuffix(".R") {
            for i in 0..<p.value.count { p.value.data[i] += 0.3 * Float(rng.normal()) }
        }
        return (session, method)
    }

    /// Gradients through the hook — of its own tensors, and of the embedding below it (the hook's
    /// backward transforms the stream's gradient) — against central finite differences.
    func testGradientsThroughTheHookMatchFiniteDifferences() throws {
        let (session, _) = try hooked(layer: 0)
        let model = session.model as! DecoderLM
        XCTAssertEqual(session.methodTensors.map(\.name), ["loreft.0.R", "loreft.0.W", "loreft.0.b"])
        let embed = model.parameters[0]
        embed.requiresGrad = true
        let (B, T) = (2, 7)
        let ids = (0..<(B * T)).map { Int32(($0 * 37 + 5) % 250) }
        let layout = RowLayout(lengths: [T, T], queries: [3, 5])
        func loss(train: Bool) throws -> Double {
            let head = TokenNLL(nextTokensOf: ids, B: B, T: T)
            try model.run(tokens: ids, B: B, T: T, head: head, train: train, hooks: RunHooks(layout: layout))
            return head.nll.reduce(0.0) { $0 + Double($1) }
        }
        let tensors = session.methodTensors + [embed]
        for p in tensors { p.ensureGrad().zero() }
        let base = try loss(train: true)
        let analytic = tensors.map { $0.grad!.array }
        XCTAssertTrue(analytic.allSatisfy { $0.contains { $0 != 0 } }, "every tensor gets a gradient")
        // Recomputing block activations in backward gives the same gradients through the hook.
        model.recomputeActivations = true
        for p in tensors { p.ensureGrad().zero() }
        XCTAssertEqual(try loss(train: true), base)
        XCTAssertEqual(tensors.map { $0.grad!.array }, analytic)
        model.recomputeActivations = false
        // The hook changes the loss: it is really in the pass.
        let plain = try session.withOriginalModel { try loss(train: false) }
        XCTAssertNotEqual(base, plain)
        checkGradient(
            "loreft hook", inputs: tensors.map(\.value.data), counts: tensors.map(\.value.count), analytic: analytic,
            eps: 1e-2, atol: 3e-3, rtol: 3e-2
        ) { try! loss(train: false) }
    }

    /// A whole pass and token-by-token generation see the hook at the same (query) position.
    func testGenerationAgreesWithAWholePass() throws {
        let (session, _) = try hooked(layer: 1)
        let prompt: [Int32] = [72, 101, 108, 108, 111]
        let next = try Scoring.generate(session.model, prompt: prompt, maxTokens: 4)
        var ids = prompt
        for t in next {
            // The whole sequence in one pass, with the prompt's last token as the query.
            let head = LogitRows(rows: [ids.count - 1])
            let layout = RowLayout(lengths: [ids.count], queries: [prompt.count - 1])
            try session.model.run(
                tokens: ids, B: 1, T: ids.count, head: head, train: false, hooks: RunHooks(layout: layout))
            XCTAssertEqual(Scoring.argmax(Array(head.row(0))), t)
            ids.append(t)
        }
    }

    func testAFailingHookAndANaNEndTheRunWithTheErrorRecorded() throws {
        for (define, message) in [
            ("CE_TEST_HOOK_FAIL", "fails in its hook"), ("CE_TEST_HOOK_NAN", "wrote nan into block 1's output"),
        ] {
            let lib = try loreft([define])
            let t = try TinyExperiment(self)
            let o = try t.run(
                t.config(method: "loreft", lr: 0.01, epochs: 2, name: define, methodBlock: "  method: {reft_layer: 1}"),
                pluginPaths: [(lib as NSString).deletingLastPathComponent])
            XCTAssertTrue(o.error?.contains(message) ?? false, "\(define): \(o.error ?? "no error")")
        }
    }

    /// LoReFT trains through the host's loop, and its edit file brings the same numbers back.
    func testTrainsAndItsEditReproducesTheRun() throws {
        let lib = try loreft()
        let t = try TinyExperiment(self)
        let o = try t.run(
            t.config(method: "loreft", lr: 0.05, epochs: 4, name: "reft", methodBlock: "  method: {reft_layer: 1}"),
            pluginPaths: [(lib as NSString).deletingLastPathComponent])
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!)
        try checkEditReproducesLastEpoch(
            t, config: t.dir + "/reft.yaml", stats: o.stats, pluginPaths: [(lib as NSString).deletingLastPathComponent])
    }
}
