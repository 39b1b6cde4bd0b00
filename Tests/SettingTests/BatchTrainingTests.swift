import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// batch_size > 1 as in the authors' code (spec §1.1, §3.4, §3.5): a batch is padded to
/// batch_size rows, its task loss is the mean over real rows of each row's mean suffix NLL,
/// and the KL term sums a batch of documents and divides by batch_size.
final class BatchTrainingTests: XCTestCase {
    /// Trains one tensor, moved away from its original in prepare so the KL has a gradient;
    /// records the gradient each update is handed.
    final class Recorder: EditMethod {
        var id: String { "recorder" }
        var grads: [[Float]] = []
        let name: String
        init(_ name: String) { self.name = name }
        func prepare(_ s: EditSession) throws {
            let p = s.model.parameter(name)!
            s.train(p)
            for i in 0..<p.value.count { p.value[i] *= 1.2 }
        }
        func update(_ s: EditSession, learningRate: Double, step: Int) throws { grads.append(s.trained[0].grad!.array) }
    }

    func testABatchOfTenMatchesTheHandComputedPaddedLossAndKL() throws {
        let dir = temporaryFolder(self)
        try AtomicFile.write(
            Data(
                """
                model: x
                threshold: 1
                training: {dataset_path: a, finetune_type: recorder, learning_rate: 0, loss_type: good, num_epochs: 1,
                  batch_size: 10, grad_acc_steps: 1, regularization_weight: 0.5, regularization_data_path: k}
                validation: {intervention_eval_path: e, degredation_general_path: g}
                """.utf8), to: dir + "/c.yaml")
        let cfg = try ExperimentConfig.load(dir + "/c.yaml")
        let model = try TinyModels.llama(seed: 31)
        let tok = TinyModels.byteTokenizer()
        let records = [("Ab is", " Xy"), ("Cdef is", " Z"), ("G is", " Qrs")].enumerated().map {
            Example(prefix: $1.0, suffix: $1.1, suffix2: nil, subject: nil, line: $0 + 1)
        }
        let name = "model.layers.1.mlp.down_proj.weight"
        let session = EditSession(model: model, tokenizer: tok, records: records, lossType: .good, seed: 4)
        let klDocs = [tok.encode("some text for the KL term"), tok.encode("and more of it")]
        let method = Recorder(name)
        let ev = Evaluator(
            intervention: InterventionSet(session.examples, lossType: .good, threshold: 1),
            general: TextSet(["general text"], tokenizer: tok), targeted: nil, hardNegative: nil)
        let trainer = Trainer(
            config: cfg, data: .init(train: session.examples, evaluator: ev, klDocs: klDocs), session: session,
            method: method,
            recorder: try RunRecorder(logPath: dir + "/l", resultsPath: dir + "/r", config: cfg, modelPath: "x"))
        try trainer.run()
        XCTAssertEqual(method.grads.count, 1, "three examples are one (padded) batch: one step per epoch")

        // The batch loss by hand: the three rows plus seven rows of id 0, run together; each real
        // row's mean suffix NLL, averaged over the three real rows.
        let seqs = session.examples.map { $0.sequences(pair: false)[0] }
        let T = seqs.map(\.ids.count).max()!
        var tokens = [Int32](repeating: 0, count: 10 * T)
        for (b, s) in seqs.enumerated() { for (i, id) in s.ids.enumerated() { tokens[b * T + i] = id } }
        let rows = seqs.enumerated().flatMap { b, s in s.rows.map { b * T + $0 } }
        let targets = seqs.flatMap { s in s.rows.map { s.ids[$0 + 1] } }
        let nll = TokenNLL(rows: rows, targets: targets)
        try model.run(tokens: tokens, B: 10, T: T, head: nll, train: false)
        var k = 0, byHand = 0.0
        for s in seqs {
            byHand += nll.nll[k..<(k + s.rows.count)].reduce(0.0) { $0 + Double($1) } / Double(s.rows.count) / 3
            k += s.rows.count
        }
        XCTAssertEqual(try trainer.taskLoss([0, 1, 2], train: false, scale: 1), byHand, accuracy: 1e-6)

        // The gradient by hand: each example alone with weight 1/3, plus 0.5/10 · KL on each document.
        session.zeroGrads()
        for s in seqs {
            let head = TaskLossObjective(sequences: [s], T: s.ids.count, lossType: .good, scale: 1.0 / 3)
            try model.run(tokens: s.ids, B: 1, T: s.ids.count, head: head, train: true)
        }
        for doc in klDocs {
            let ref = LogSoftmaxRows(T: doc.count, V: model.vocabSize)
            try session.withOriginalModel { try model.run(tokens: doc, B: 1, T: doc.count, head: ref, train: false) }
            let kl = KLObjective(reference: ref.out, weight: 0.5 / 10)
            try model.run(tokens: doc, B: 1, T: doc.count, head: kl, train: true)
        }
        let expected = session.trained[0].grad!.array
        XCTAssertGreaterThan(expected.map(abs).max()!, 1e-4)
        XCTAssertLessThan(maxAbsDiff(expected, method.grads[0]), 1e-6 * expected.map(abs).max()! + 1e-9)
    }
}
