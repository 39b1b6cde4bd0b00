import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Losses, success rules, token positions, degradation balls and input errors (spec §1–3).
final class SettingTests: XCTestCase {
    /// NaN and infinite scores fail under every rule (`NaN > τ` alone is false), and a model
    /// whose output layer is NaN scores 0, not 1.
    func testANonFiniteScoreIsAFailure() throws {
        for score in [Double.nan, .infinity, -.infinity] {
            for rule in LossType.allCases {
                XCTAssertTrue(rule.fails(sum1: score, sum2: rule.isPair ? 1 : nil, threshold: 1.6), "\(rule) \(score)")
            }
        }
        let model = try TinyModels.llama(seed: 3)
        let set = InterventionSet(
            [
                Example(prefix: "Cap of Ab is", suffix: " Xy", suffix2: nil, subject: nil, line: 1),
                Example(prefix: "Cap of Cd is", suffix: " Zw", suffix2: nil, subject: nil, line: 2),
            ],
            tokenizer: TinyModels.byteTokenizer(), lossType: .good, threshold: 1e9)
        let (s1, s2) = try set.sums(model)
        XCTAssertEqual(set.successRate(s1: s1, s2: s2), 1, "a finite loss is below a huge threshold")
        let head = model.parameters.last!.value
        for i in 0..<head.count { head.data[i] = .nan }
        let (n1, n2) = try set.sums(model)
        XCTAssertTrue(n1.allSatisfy(\.isNaN))
        XCTAssertEqual(set.successRate(s1: n1, s2: n2), 0)
    }

    func testSuccessRulesOnHandComputedCases() {
        // good: fail when Σ NLL > τ ; τ = −log 0.2. p = 0.25 succeeds, p = 0.15 fails, p = 0.2 ties → success
        let tau = -log(0.2)
        XCTAssertFalse(LossType.good.fails(sum1: -log(0.25), sum2: nil, threshold: tau))
        XCTAssertTrue(LossType.good.fails(sum1: -log(0.15), sum2: nil, threshold: tau))
        XCTAssertFalse(LossType.good.fails(sum1: tau, sum2: nil, threshold: tau), "ties succeed")
        // bad: fail when log p > log 0.001
        let tb = log(0.001)
        XCTAssertTrue(LossType.bad.fails(sum1: -log(0.01), sum2: nil, threshold: tb))
        XCTAssertFalse(LossType.bad.fails(sum1: -log(0.0005), sum2: nil, threshold: tb))
        // balance: |log p(he) − log p(she)| within log 1.5
        let tg = log(1.5)
        XCTAssertFalse(LossType.balance.fails(sum1: -log(0.3), sum2: -log(0.25), threshold: tg))
        XCTAssertTrue(LossType.balance.fails(sum1: -log(0.1), sum2: -log(0.3), threshold: tg))
        // good-v-bad: success when p(s1) ≥ 16 p(s2)
        let tv = log(1.0 / 16)
        XCTAssertFalse(LossType.goodVBad.fails(sum1: -log(0.32), sum2: -log(0.01), threshold: tv))
        XCTAssertTrue(LossType.goodVBad.fails(sum1: -log(0.1), sum2: -log(0.01), threshold: tv))
    }

    func testTrainingLossesAndTheirGradients() {
        XCTAssertEqual(LossType.good.loss(mean1: 2, mean2: nil), 2)
        XCTAssertEqual(LossType.bad.loss(mean1: 2, mean2: nil), -2)
        XCTAssertEqual(LossType.balance.loss(mean1: 1, mean2: 3), 2)
        XCTAssertEqual(LossType.goodVBad.loss(mean1: 1, mean2: 3), -2)
        XCTAssertEqual(LossType.balance.lossGradient(mean1: 1, mean2: 3).0, -1)
        XCTAssertEqual(LossType.balance.lossGradient(mean1: 2, mean2: 2).0, 0, "subgradient 0 at a tie")
    }

    func testTokenPositions() {
        // prefix of 3 ids and suffix of 2: rows 2 and 3 predict the suffix ids
        let s = ScoredSequence.suffix(prefix: [10, 11, 12], suffix: [20, 21])
        XCTAssertEqual(s.ids, [10, 11, 12, 20, 21])
        XCTAssertEqual(s.rows, 2..<4)
        XCTAssertEqual(s.rows.map { s.ids[$0 + 1] }, [20, 21])
        XCTAssertEqual(ScoredSequence.text([1, 2, 3, 4]).rows, 0..<3, "the first token is never scored")
        // the suffix is tokenized on its own: " Port Louis" keeps its leading space token
        let t = TinyModels.byteTokenizer()
        let ex = ScoredSequence.suffix(prefix: t.encode("is"), suffix: t.encode(" P"))
        XCTAssertEqual(ex.ids, [105, 115, 32, 80])
    }

    func testBallSelection() {
        let g = [3.0, 3.0002, 3.004, 3.0001, 3.0029, 3.005]
        // ε = 1e-3: cutoff 3.003 → epochs 0,1,3,4 inside; the last is 4
        XCTAssertEqual(Ball(1e-3).lastEpochInside(g), 4)
        // ε = 1e-4: cutoff 3.0003 → the last inside is 3
        XCTAssertEqual(Ball(1e-4).lastEpochInside(g), 3)
        // ε = 1e-5: only epoch 0
        XCTAssertEqual(Ball(1e-5).lastEpochInside(g), 0)
        // a tie with the cutoff is outside at validation (<) and inside at test (<=)
        let tie = [2.0, 2.0 * (1 + 1e-3)]
        XCTAssertEqual(Ball(1e-3).lastEpochInside(tie), 0)
        XCTAssertEqual(Ball(1e-3).lastEpochInside(tie, rule: .inclusive), 1)
        // the test-time cap at the validation-chosen epoch
        XCTAssertEqual(Ball(1e-3).lastEpochInside(g, rule: .inclusive, cap: 2), 1)
        XCTAssertEqual(Ball(1e-5).lastEpochInside([5.0]), 0, "epoch 0 alone qualifies")
    }

    func testBallKeysAndLabels() {
        // The authors' results keys are Python's str(ε); people read 1e-3.
        XCTAssertEqual(Ball.paper.map(\.key), ["0.001", "0.0001", "1e-05"])
        XCTAssertEqual(Ball.paper.map(\.label), ["1e-3", "1e-4", "1e-5"])
        XCTAssertEqual(Ball(5e-4).label, "5e-4")
        XCTAssertEqual(Ball(2.5e-5).label, "2.5e-5")
        XCTAssertEqual(Ball(key: "1e-05"), Ball(1e-5))
        XCTAssertEqual(Ball(key: "1e-4"), Ball(1e-4))
        XCTAssertNil(Ball(key: "x"))
        XCTAssertEqual(Ball(1e-3).cutoff(reference: 2), 2.002, accuracy: 1e-12)
    }

    func testCosineScheduleMatchesTheAuthors() {
        let expected = [1.0, 0.9755, 0.9045, 0.7939, 0.6545, 0.5, 0.3455, 0.2061, 0.0955, 0.0245]
        for (e, f) in expected.enumerated() {
            XCTAssertEqual(Trainer.cosineLR(1, epoch: e, epochs: 10), f, accuracy: 1e-4)
        }
    }

    func write(_ text: String) -> String {
        let p = temporaryFolder(self) + "/f.jsonl"
        FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    func testMalformedJSONLNamesFileAndLine() throws {
        let p = write(
            "{\"prefix\": \"a\", \"suffix\": \" b\"}\n\n{\"prefix\": \"c\"}\nnot json\n[1,2]\n{\"prefix\": \"d\", \"suffix\": 3}\n"
        )
        XCTAssertThrowsError(try JSONL.examples(p, pair: false)) {
            XCTAssertEqual("\($0)", "\(p):3: missing field \"suffix\" (single-suffix records need prefix, suffix)")
        }
        let (ok, report) = try JSONL.examples(p, pair: false, skipMalformed: true)
        XCTAssertEqual(ok.count, 1)
        XCTAssertEqual(report.skipped.map(\.line), [3, 4, 5, 6])
        XCTAssertEqual(ok[0].line, 1)
        let q = write("{\"prefix\": \"a\", \"suffix1\": \" b\", \"suffix2\": \" c\", \"extra\": 1}\n")
        XCTAssertEqual(try JSONL.examples(q, pair: true).examples[0].suffix2, " c", "extra fields are ignored")
        XCTAssertThrowsError(try JSONL.texts(write("{\"txt\": \"x\"}\n"))) {
            XCTAssertTrue("\($0)".hasSuffix(":1: missing field \"text\""))
        }
        XCTAssertThrowsError(try JSONL.texts("/nonexistent/x.jsonl")) { XCTAssertTrue("\($0)".contains("cannot read")) }
    }

    func testConfigErrorsNameTheKey() throws {
        let dir = temporaryFolder(self)
        func cfg(_ body: String) -> String {
            let p = dir + "/c\(body.hashValue).yaml";
            FileManager.default.createFile(atPath: p, contents: Data(body.utf8)); return p
        }
        let good = """
            model: smollm2
            threshold: 1.6
            training: {dataset_path: a.jsonl, finetune_type: lora, learning_rate: 0.001, loss_type: good, num_epochs: 2, suffix_pair: false}
            validation: {intervention_eval_path: e.jsonl, degredation_general_path: g.jsonl}
            """
        XCTAssertEqual(try ExperimentConfig.load(cfg(good)).training.num_epochs, 2)
        XCTAssertThrowsError(try ExperimentConfig.load(cfg(good.replacingOccurrences(of: "num_epochs: 2, ", with: ""))))
        {
            XCTAssertTrue("\($0)".contains("missing key training.num_epochs"), "\($0)")
        }
        XCTAssertThrowsError(
            try ExperimentConfig.load(cfg(good.replacingOccurrences(of: "loss_type: good", with: "loss_type: great")))
        ) {
            XCTAssertTrue("\($0)".contains("training.loss_type"), "\($0)")
        }
        XCTAssertThrowsError(
            try ExperimentConfig.load(
                cfg(good.replacingOccurrences(of: "suffix_pair: false", with: "suffix_pair: true")))
        ) {
            XCTAssertTrue("\($0)".contains("needs suffix_pair: false"), "\($0)")
        }
    }

    /// The task-loss objective's gradient (including |m1 − m2| with its first pass) against
    /// finite differences through a tiny model.
    func testTaskLossGradientsForEveryLossType() throws {
        let m = try TinyModels.llama(seed: 4)
        let seqs = [
            ScoredSequence.suffix(prefix: [5, 9, 30], suffix: [40, 41]),
            ScoredSequence.suffix(prefix: [5, 9, 30], suffix: [77]),
        ]
        let T = 5
        var tokens = [Int32](repeating: 0, count: 2 * T)
        for (b, s) in seqs.enumerated() { for (i, id) in s.ids.enumerated() { tokens[b * T + i] = id } }
        for type in LossType.allCases {
            let use = type.isPair ? seqs : [seqs[0]]
            let toks = type.isPair ? tokens : Array(tokens[0..<T])
            let w = m.parameter("model.layers.1.mlp.down_proj.weight")!
            m.setTrainable(false)
            w.requiresGrad = true
            w.grad?.zero()
            let h = TaskLossObjective(sequences: use, T: T, lossType: type)
            try m.run(tokens: toks, B: use.count, T: T, head: h, train: true)
            let analytic = w.grad!.array
            w.requiresGrad = false
            try checkGradient(
                "\(type)", inputs: [w.value.data], counts: [w.value.count], analytic: [analytic], eps: 5e-3, samples: 15
            ) {
                let h = TaskLossObjective(sequences: use, T: T, lossType: type)
                try m.run(tokens: toks, B: use.count, T: T, head: h, train: false)
                return h.loss
            }
        }
    }

    func testKLIsZeroForTheSameModelAndHasTheRightGradient() throws {
        let m = try TinyModels.llama(seed: 5)
        let doc: [Int32] = [3, 50, 60, 70, 80, 90]
        let ref = LogSoftmaxRows(T: doc.count, V: m.vocabSize)
        try m.run(tokens: doc, B: 1, T: doc.count, head: ref, train: false)
        let same = KLObjective(reference: ref.out, weight: 1)
        try m.run(tokens: doc, B: 1, T: doc.count, head: same, train: false)
        XCTAssertEqual(same.loss, 0, accuracy: 1e-5)
        // perturb the model, then check d KL / d w
        let w = m.parameter("model.layers.0.mlp.up_proj.weight")!
        for i in 0..<w.value.count { w.value[i] += 0.05 * Float((i * 7919) % 13 - 6) / 6 }
        m.setTrainable(false)
        w.requiresGrad = true
        w.grad?.zero()
        let kl = KLObjective(reference: ref.out, weight: 0.7)
        try m.run(tokens: doc, B: 1, T: doc.count, head: kl, train: true)
        XCTAssertGreaterThan(kl.loss, 0)
        let analytic = w.grad!.array
        w.requiresGrad = false
        try checkGradient(
            "kl", inputs: [w.value.data], counts: [w.value.count], analytic: [analytic], eps: 5e-3, samples: 15
        ) {
            let h = KLObjective(reference: ref.out, weight: 0.7)
            try m.run(tokens: doc, B: 1, T: doc.count, head: h, train: false)
            return h.loss
        }
    }
}

final class WindowTests: XCTestCase {
    /// A text longer than the context is scored in overlapping windows: every position once,
    /// and each window equals scoring that slice alone.
    func testLongTextsAreScoredInWindows() throws {
        let m = try TinyModels.llama(seed: 2)  // context 64
        let ids = (0..<150).map { Int32(($0 * 37) % 250) }
        let nll = try Scoring.tokenNLL(m, ids: ids)
        XCTAssertEqual(nll.count, 149)
        let first = try Scoring.tokenNLL(m, ids: Array(ids[0..<64]))
        XCTAssertLessThan(maxAbsDiff(Array(nll[0..<63]), first), 1e-4)
        let second = try Scoring.tokenNLL(m, ids: Array(ids[63..<127]))
        XCTAssertLessThan(
            maxAbsDiff(Array(nll[63..<126]), second), 1e-4, "the next window starts at the previous window's last token"
        )
    }
}
