import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// Whole experiments on a tiny model: the training loop, records, resume after an
/// interruption, and the authors' update rule against true accumulation.
final class ExperimentTests: XCTestCase {
    func testLoRAAndFullImproveTheCanonicalLossAndWriteRecords() throws {
        let t = try TinyExperiment(self)
        for (method, lr) in [("lora", 0.05), ("full", 0.01)] {
            let o = try t.run(t.config(method: method, lr: lr, epochs: 3, name: method))
            XCTAssertNil(o.error)
            XCTAssertEqual(o.stats.count, 4)
            XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!, method)
            let log = try RunRecorder.readLog(t.dir + "/\(method).log.jsonl")
            XCTAssertEqual(log, o.stats)
            let results =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: t.dir + "/\(method).results.json"))) as! [String: Any]
            let test = results["test"] as! [String: Any]
            XCTAssertNotNil(test["initial_eval"])
            for key in ["0.001", "0.0001", "1e-05"] { XCTAssertNotNil((test[key] as? [String: Any])?["index"]) }
        }
    }

    func testInterruptedRunResumesToTheSameResults() throws {
        let t = try TinyExperiment(self)
        let whole = try t.run(t.config(method: "lora", lr: 0.05, epochs: 3, name: "whole"))
        let cfg = t.config(method: "lora", lr: 0.05, epochs: 3, name: "cut")
        // stop in the middle of epoch 2
        defer { Cancellation.requested = 0 }
        XCTAssertThrowsError(try t.run(cfg) { line in if line.hasPrefix("epoch 2/3") { Cancellation.requested = 1 } }) {
            XCTAssertTrue("\($0)".contains("interrupted"))
        }
        XCTAssertEqual(try RunRecorder.readLog(t.dir + "/cut.log.jsonl").count, 2, "epochs 0 and 1 are on disk")
        Cancellation.requested = 0
        var resumedFrom = ""
        let resumed = try t.run(cfg, keepCheckpoint: true) { if $0.hasPrefix("resuming") { resumedFrom = $0 } }
        XCTAssertEqual(resumedFrom, "resuming after epoch 1 of 3")
        XCTAssertEqual(resumed.stats.count, whole.stats.count)
        for (a, b) in zip(resumed.stats, whole.stats) {
            XCTAssertEqual(a.general, b.general, accuracy: 1e-6)
            XCTAssertEqual(a.intervention, b.intervention)
            XCTAssertEqual(a.train_loss!, b.train_loss!, accuracy: 1e-6)
        }
        // a different config refuses the old checkpoint instead of silently mixing runs
        let changed = t.config(method: "lora", lr: 0.07, epochs: 3, name: "cut")
        XCTAssertThrowsError(try t.run(changed)) { XCTAssertTrue("\($0)".contains("different config")) }
    }

    /// A method that records the gradient it is handed at each update.
    final class Recorder: EditMethod {
        var id: String { "recorder" }
        var grads: [[Float]] = []
        let name: String
        init(_ name: String) { self.name = name }
        func prepare(_ s: EditSession) throws { s.train(s.model.parameter(name)!) }
        func update(_ s: EditSession, learningRate: Double, step: Int) throws { grads.append(s.trained[0].grad!.array) }
    }

    func testAuthorsUpdateRuleUsesOneExampleAndAccumulationUsesAll() throws {
        let model = try TinyModels.llama(seed: 21)
        let tok = TinyModels.byteTokenizer()
        let examples = (0..<7).map {
            Example(prefix: "fact \($0) is", suffix: " v\($0)", suffix2: nil, subject: nil, line: $0 + 1)
        }
        let name = "model.layers.1.mlp.down_proj.weight"
        // each example's own gradient
        var single: [[Float]] = []
        for ex in examples {
            let s = EditSession(model: model, tokenizer: tok, records: [ex], lossType: .good, seed: 1)
            s.train(model.parameter(name)!)
            let seq = ScoredSequence.suffix(prefix: tok.encode(ex.prefix), suffix: tok.encode(ex.suffix))
            try model.run(
                tokens: seq.ids, B: 1, T: seq.ids.count,
                head: TaskLossObjective(sequences: [seq], T: seq.ids.count, lossType: .good), train: true)
            single.append(s.trained[0].grad!.array)
            s.revert()
        }
        func run(_ rule: String) throws -> [[Float]] {
            let dir = temporaryFolder(self)
            let yaml = """
                model: x
                threshold: 1
                training: {dataset_path: a, finetune_type: recorder, learning_rate: 0, loss_type: good, num_epochs: 1, grad_acc_steps: 5, update_rule: \(rule)}
                validation: {intervention_eval_path: e, degredation_general_path: g}
                """
            FileManager.default.createFile(atPath: dir + "/c.yaml", contents: Data(yaml.utf8))
            let cfg = try ExperimentConfig.load(dir + "/c.yaml")
            let session = EditSession(model: model, tokenizer: tok, records: examples, lossType: .good, seed: 9)
            let method = Recorder(name)
            let ev = Evaluator(
                intervention: InterventionSet(examples, tokenizer: tok, lossType: .good, threshold: 1),
                general: TextSet(["some text"], tokenizer: tok), targeted: nil, hardNegative: nil)
            let trainer = Trainer(
                config: cfg, data: .init(train: examples.tokenized(with: tok), evaluator: ev, klDocs: []),
                session: session, method: method,
                recorder: try RunRecorder(logPath: dir + "/l", resultsPath: dir + "/r", config: cfg, modelPath: "x"))
            try trainer.run()
            session.revert()
            return method.grads
        }
        let authors = try run("authors")
        XCTAssertEqual(authors.count, 1, "7 examples, grad_acc_steps 5: one step; the last 2 are dropped")
        XCTAssertTrue(
            single.contains { maxAbsDiff($0, authors[0]) < 1e-6 }, "the step sees exactly one example's gradient")
        let acc = try run("accumulate")
        XCTAssertEqual(acc.count, 2, "a step after 5 examples and one for the remaining 2")
        XCTAssertFalse(single.contains { maxAbsDiff($0, acc[0]) < 1e-6 }, "an accumulated step mixes several examples")
        // the two accumulated steps together hold every example once, each scaled by 1/5
        var total = [Float](repeating: 0, count: single[0].count)
        for g in single { for i in total.indices { total[i] += g[i] / 5 } }
        var seen = [Float](repeating: 0, count: total.count)
        for g in acc { for i in seen.indices { seen[i] += g[i] } }
        XCTAssertLessThan(maxAbsDiff(seen, total), 1e-5)
    }
}

final class PrefixCacheTests: XCTestCase {
    func testCachedEvaluationEqualsAFullPassAfterAnEdit() throws {
        let model = try TinyModels.llama(seed: 31, layers: 3)
        let tok = TinyModels.byteTokenizer()
        let set = TextSet(["one text to score", "a second, longer text to score here", "x y"], tokenizer: tok)
        let session = EditSession(model: model, tokenizer: tok, examples: [], lossType: .good, seed: 1)
        let a = try session.attachLowRank(module: "model.layers.2.mlp.down_proj", rank: 2, scale: 1)
        XCTAssertEqual(model.frozenPrefixLayers, 2)
        let before = try set.meanNLL(model)  // fills the cache at layer 2
        for i in 0..<a.B.value.count { a.B.value[i] = 0.3 }
        for i in 0..<a.A.value.count { a.A.value[i] = Float(i % 5) * 0.1 }
        let cached = try set.meanNLL(model)
        XCTAssertEqual(set.cache.hits, 1, "the second pass resumed its one batch from layer 2")
        let plain = TextSet(["one text to score", "a second, longer text to score here", "x y"], tokenizer: tok)
        session.train(model.parameter("model.layers.0.mlp.up_proj.weight")!)  // now nothing is frozen
        XCTAssertEqual(model.frozenPrefixLayers, 0)
        let full = try plain.meanNLL(model)
        XCTAssertNotEqual(before, cached, "the edit changed the loss")
        XCTAssertEqual(cached, full, accuracy: 1e-6)
    }
}
