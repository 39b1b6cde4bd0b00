import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// Conditional-likelihood finetuning and the edit-score metrics on tiny models.
final class CondFTTests: XCTestCase {
    func testOnlyTargetPositionsGetAGradient() throws {
        // The output layer hands back d(hidden) only for the rows the objective scores.
        let (N, C, V) = (6, 8, 11)
        var rng = SeededRandom(seed: 3)
        let hidden = Tensor([N, C], values: randomArray(N * C, &rng))
        let w = Parameter("w", Tensor([V, C], values: randomArray(V * C, &rng)))
        let seq = ScoredSequence.suffix(prefix: [1, 2, 3, 4], suffix: [5, 6])  // rows 3 and 4
        let head = TaskLossObjective(sequences: [seq], T: N, lossType: .good)
        let dh = Tensor([N, C])
        OutputHead.run(hidden: hidden.data, N: N, C: C, weight: w, head: head, dHidden: dh.data, scratch: Scratch())
        for r in 0..<N {
            let norm = (0..<C).reduce(Float(0)) { $0 + abs(dh[r * C + $1]) }
            if seq.rows.contains(r) {
                XCTAssertGreaterThan(norm, 0, "row \(r) predicts a target")
            } else {
                XCTAssertEqual(norm, 0, "prompt row \(r)")
            }
        }
    }

    func testGenerationFromTheUneditedModelIsDeterministicUnderASeed() throws {
        let m = try TinyModels.llama(seed: 4)
        let a = try Scoring.generate(m, prompt: [72, 101], maxTokens: 12, temperature: 1, seed: 7)
        let b = try Scoring.generate(m, prompt: [72, 101], maxTokens: 12, temperature: 1, seed: 7)
        let c = try Scoring.generate(m, prompt: [72, 101], maxTokens: 12, temperature: 1, seed: 8)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        // and a host session generates with the unedited model even while an edit is applied
        let s = EditSession(model: m, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 1)
        let ad = try s.attachLowRank(module: "model.layers.1.mlp.down_proj", rank: 2, scale: 5)
        for i in 0..<ad.A.value.count { ad.A.value[i] = 1 }
        for i in 0..<ad.B.value.count { ad.B.value[i] = 1 }
        let greedy = try Scoring.generate(m, prompt: [72, 101], maxTokens: 6)
        let unedited = try s.withOriginalModel { try Scoring.generate(m, prompt: [72, 101], maxTokens: 6) }
        s.revert()
        XCTAssertEqual(unedited, try Scoring.generate(m, prompt: [72, 101], maxTokens: 6))
        XCTAssertNotEqual(greedy, unedited, "the edit changes greedy output; the service does not see it")
    }

    func testCondFTLearnsTheEditAndKeepsLocalityPredictions() throws {
        let t = try TinyExperiment(self)
        FileManager.default.createFile(
            atPath: t.dir + "/loc.jsonl",
            contents: Data(
                "{\"text\": \"Ab has a town\"}\n{\"text\": \"some other text\"}\n{\"text\": \"The weather is\"}\n".utf8)
        )
        let cfg = t.config(
            method: "condft", lr: 0.02, epochs: 4, name: "condft",
            training: """
                  method:
                    params: lora
                    target_modules: .*\\.(0|1)\\.mlp\\.(up_proj|down_proj)
                    prefixes: 2
                    prefix_length: 4
                    locality_corpus: \(t.dir)/loc.jsonl
                    locality_weight: 5
                """)
        let o = try t.run(cfg)
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!, "the edit is learnt")
        XCTAssertEqual(o.stats[0].locality, 1)
        XCTAssertEqual(o.stats.last!.locality, 1, "the unrelated prompt keeps its prediction")
        XCTAssertNotNil(o.stats.last!.edit_score)
        XCTAssertNotNil(o.stats.last!.efficacy)
    }
}
