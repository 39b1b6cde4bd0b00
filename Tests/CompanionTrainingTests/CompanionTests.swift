import Kernels
import TestSupport
import XCTest

@testable import CompanionTraining
@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// Companion Backpacks on a tiny random Llama: gradients by finite differences, the cached
/// residual states equal the live ones, save/load round trips and refuses the wrong base or
/// corrupt weights, distillation lowers the held-out KL and resumes to the same weights, and
/// sense finetuning with the smoothed background works through the plugin ABI.
final class CompanionTests: XCTestCase {
    func tinyBase(_ dir: String) throws -> LoadedModel {
        try HuggingFaceExport.write(
            LoadedModel(
                model: try TinyModels.llama(seed: 5, layers: 3), tokenizer: TinyModels.byteTokenizer(),
                path: "tiny", name: "tiny"), to: dir + "/base")
        return try ModelStore.load(dir + "/base")
    }

    func tinyConfig(_ base: DecoderLM, path: String) -> CompanionConfig {
        var c = CompanionConfig(base_model: path, base_identity: ModelIdentity.of(base))
        c.prefix_layers = 2
        c.num_senses = 3
        c.weight_width = 4
        c.sense_hidden = 24
        return c
    }

    /// Sizes whose matrices overflow (a crafted config.json) are refused before anything is made.
    func testOverflowingSizesAreRefused() throws {
        let base = try TinyModels.llama(seed: 5, layers: 3)
        for (width, hidden) in [(1 << 62, 24), (4, 1 << 62), (1 << 40, 24)] {
            var c = tinyConfig(base, path: "unused")
            (c.weight_width, c.sense_hidden) = (width, hidden)
            XCTAssertThrowsError(try Companion.initialize(base: base, config: c, seed: 1)) {
                XCTAssertTrue("\($0)".contains("values, over 2^31"), "\($0)")
            }
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        let dir = temporaryFolder(self)
        let base = try tinyBase(dir).model as! DecoderLM
        let bp = try Companion.initialize(base: base, config: tinyConfig(base, path: dir + "/base"), seed: 3)
        // Larger weights than the training initialisation so every path carries signal.
        var rng = SeededRandom(seed: 8)
        for p in bp.parameters { for i in 0..<p.value.count { p.value[i] += Float(0.3 * rng.normal()) } }
        let tokens: [Int32] = [256, 72, 101, 108, 108, 111, 32, 119, 256, 65, 66, 67, 68, 69, 70, 71]
        let (B, T, C) = (2, 8, base.spec.C)
        let teacher = Tensor([B * T, C], values: (0..<(B * T * C)).map { _ in Float(rng.normal()) })
        func loss(train: Bool) throws -> Double {
            let obj = DistillationObjective(rows: B * T, teacher: teacher.data, head: base.head, bias: nil, weight: 1)
            try bp.run(tokens: tokens, B: B, T: T, head: obj, train: train)
            return obj.kl.reduce(0.0) { $0 + Double($1) }
        }
        bp.setTrainable(true)
        bp.zeroGrads()
        _ = try loss(train: true)
        let params = bp.parameters
        XCTAssertEqual(
            Set(params.map(\.name)),
            [
                "companion.sense_net.fc1.weight", "companion.sense_net.fc1.bias", "companion.sense_net.fc2.weight",
                "companion.sense_net.fc2.bias", "companion.weight_net.norm.weight", "companion.weight_net.norm.bias",
                "companion.weight_net.proj.weight", "companion.weight_net.proj.bias",
            ])
        XCTAssertFalse(base.parameters.contains { $0.grad != nil }, "the base model is frozen")
        try checkGradient(
            "companion", inputs: params.map { $0.value.data }, counts: params.map { $0.value.count },
            analytic: params.map { $0.grad!.array }, eps: 1e-2, atol: 3e-3, rtol: 3e-2, samples: 12
        ) {
            try loss(train: false)
        }
    }

    func testSavedStatesGiveTheLiveResultAndFilesRoundTrip() throws {
        let dir = temporaryFolder(self)
        let lm = try tinyBase(dir)
        let base = lm.model as! DecoderLM
        let cfg = tinyConfig(base, path: dir + "/base")
        let bp = try Companion.initialize(base: base, config: cfg, seed: 4)
        let tokens: [Int32] = [256, 10, 20, 30, 40, 50, 60, 70]
        let live = LogitRows(rows: Array(0..<8)), hooks = RunHooks(saveAt: 2)
        try bp.run(tokens: tokens, B: 1, T: 8, head: live, train: false, hooks: hooks)
        let resumed = LogitRows(rows: Array(0..<8))
        try bp.run(tokens: tokens, B: 1, T: 8, head: resumed, train: false, hooks: RunHooks(resume: hooks.saved!))
        XCTAssertEqual(live.logits, resumed.logits)
        XCTAssertEqual(bp.frozenPrefixLayers, 2)

        try Companion.save(bp, config: cfg, to: dir + "/companion", dtype: .f32)
        let loaded = try ModelStore.load(dir + "/companion")
        let again = LogitRows(rows: Array(0..<8))
        try loaded.model.run(tokens: tokens, B: 1, T: 8, head: again, train: false)
        XCTAssertEqual(live.logits, again.logits)
        XCTAssertEqual(loaded.model.architecture, "backpack-companion")

        // fp16 files hold rounded weights; their checksum is of what is stored.
        try Companion.save(bp, config: cfg, to: dir + "/half")
        let half = try ModelStore.load(dir + "/half")
        let h = LogitRows(rows: Array(0..<8))
        try half.model.run(tokens: tokens, B: 1, T: 8, head: h, train: false)
        for (a, b) in zip(live.logits, h.logits) { XCTAssertEqual(a, b, accuracy: 2e-3 * max(1, abs(a))) }

        // A different base, and corrupt weights, are refused.
        var wrong = cfg
        wrong.base_identity = "0000000000000000"
        try Companion.save(bp, config: wrong, to: dir + "/wrong", dtype: .f32)
        XCTAssertThrowsError(try ModelStore.load(dir + "/wrong")) {
            XCTAssertTrue("\($0)".contains("was trained on"), "\($0)")
        }
        let weights = dir + "/companion/model.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        bytes[bytes.count - 5] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: weights))
        XCTAssertThrowsError(try ModelStore.load(dir + "/companion")) {
            XCTAssertTrue("\($0)".contains("checksum"), "\($0)")
        }
    }

    func testDistillationLowersHeldOutKLAndResumesToTheSameWeights() throws {
        let dir = temporaryFolder(self)
        let lm = try tinyBase(dir)
        let base = lm.model as! DecoderLM
        let cfg = tinyConfig(base, path: dir + "/base")
        let samples = try DistillationSamples.prepare(
            base: lm, layers: 2, documents: 40, T: 12, seed: 7, folder: dir + "/samples")
        XCTAssertEqual(samples.tokens.count, 40 * 12)
        XCTAssertTrue(
            samples.tokens.enumerated().allSatisfy { $0.offset % 12 != 0 || $0.element == 256 },
            "every document starts with the prompt")
        // Reading the shards back gives the same data (and sampling is deterministic in the seed).
        let again = try DistillationSamples.prepare(
            base: lm, layers: 2, documents: 40, T: 12, seed: 7, folder: dir + "/samples")
        XCTAssertEqual(again.tokens, samples.tokens)
        XCTAssertEqual(again.states.array, samples.states.array)
        XCTAssertEqual(again.teacher.array, samples.teacher.array)

        var settings = CompanionTrainingSettings()
        settings.epochs = 4; settings.batch = 4; settings.heldOut = 8; settings.learningRate = 1e-2;
        settings.warmupSteps = 3
        func fresh() throws -> BackpackLM { try Companion.initialize(base: base, config: cfg, seed: 2) }
        let a = try fresh()
        let straight = try CompanionTrainer(
            companion: a, base: base, samples: samples, settings: settings, folder: dir + "/a")
        let before = try straight.heldOutKL()
        let history = try straight.train()
        XCTAssertEqual(history.count, 4)
        XCTAssertLessThan(
            history.last!.held_out_kl, 0.85 * before,
            "distillation lowers the held-out KL (\(before) → \(history.last!.held_out_kl))")
        // The cached held-out figure equals the live one (base run again, no saved states),
        // up to the fp16 rounding of the stored states.
        let held = (32..<40).map { d in Array(samples.tokens[(d * 12)..<((d + 1) * 12)]) }
        let live = try CompanionCheck.run(companion: a, base: base, documents: held)
        XCTAssertEqual(live.kl, history.last!.held_out_kl, accuracy: 0.02 * history.last!.held_out_kl)

        // Interrupted after two epochs, then run again: the same weights as straight through.
        let b = try fresh()
        var calls = 0
        let stop = try CompanionTrainer(
            companion: b, base: base, samples: samples, settings: settings, folder: dir + "/b")
        XCTAssertThrowsError(
            try stop.train(cancelled: {
                calls += 1; return calls > 2 * 4
            }))
        let c = try fresh()
        let resumed = try CompanionTrainer(
            companion: c, base: base, samples: samples, settings: settings, folder: dir + "/b")
        let rest = try resumed.train()
        XCTAssertEqual(rest.map(\.held_out_kl), history.map(\.held_out_kl))
        XCTAssertEqual(rest.map(\.train_kl), history.map(\.train_kl))
        for (p, q) in zip(a.parameters, c.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
        var other = settings
        other.learningRate = 1e-3
        XCTAssertThrowsError(
            try CompanionTrainer(
                companion: try fresh(), base: base, samples: samples, settings: other, folder: dir + "/b"
            ).train()
        ) {
            XCTAssertTrue("\($0)".contains("other settings"), "\($0)")
        }
    }

    func testPredictedProbabilitiesAreTheBaseModelsSoftmax() throws {
        let dir = temporaryFolder(self)
        let base = try tinyBase(dir).model as! DecoderLM
        let bp = try Companion.initialize(base: base, config: tinyConfig(base, path: dir + "/base"), seed: 4)
        let tokens: [Int32] = [256, 3, 1, 4, 1, 5, 9, 2]
        var sum = [Float](repeating: 0, count: bp.vocabSize)
        try sum.withUnsafeMutableBufferPointer {
            try bp.addPredictedProbabilities(tokens: tokens, rows: [2, 5], into: $0.baseAddress!)
        }
        let ref = LogSoftmaxRows(rows: [2, 5], V: base.vocabSize)
        try base.run(tokens: tokens, B: 1, T: 8, head: ref, train: false)
        for v in 0..<bp.vocabSize {
            XCTAssertEqual(
                Double(sum[v]), exp(Double(ref.out[v])) + exp(Double(ref.out[base.vocabSize + v])), accuracy: 1e-5)
        }
        XCTAssertEqual(Double(sum.reduce(0, +)), 2, accuracy: 1e-4)
    }

    /// Sense finetuning of a companion through the plugin: the selection is the formula with
    /// the smoothed background (α background + s · the base's expected count of each word),
    /// the edit trains only sense deltas, and its loss falls.
    func testSmoothedBackgroundSenseFinetuningThroughThePlugin() throws {
        let t = try TinyExperiment(self)
        // A base with peaked predictions, so that words differ in how often they are predicted.
        let peaked = try TinyModels.llama(seed: 5, layers: 2)
        peaked.parameter("model.norm.weight")!.value.buffer.indices.forEach {
            peaked.parameter("model.norm.weight")!.value[$0] *= 6
        }
        try HuggingFaceExport.write(
            LoadedModel(model: peaked, tokenizer: TinyModels.byteTokenizer(), path: "tiny", name: "tiny"),
            to: t.dir + "/base")
        let base = try ModelStore.load(t.dir + "/base").model as! DecoderLM
        var cfg = tinyConfig(base, path: t.dir + "/base")
        cfg.prefix_layers = 1
        let bp = try Companion.initialize(base: base, config: cfg, seed: 6)
        var rng = SeededRandom(seed: 1)
        for p in bp.parameters where p.value.shape.count == 2 {
            for i in 0..<p.value.count { p.value[i] = Float(0.5 * rng.normal()) }
        }
        try Companion.save(bp, config: cfg, to: t.dir + "/companion", dtype: .f32)
        FileManager.default.createFile(
            atPath: t.dir + "/bg.jsonl", contents: Data("{\"text\": \"a bg text\"}\n{\"text\": \"far off\"}\n".utf8))
        let examples = try JSONL.examples(t.dir + "/train.jsonl", pair: false).examples
        func chosen(_ smoothing: Double) throws -> Set<Int> {
            let loaded = try ModelStore.load(t.dir + "/companion")
            let model = loaded.model as! BackpackLM
            let session = EditSession(
                model: model, tokenizer: loaded.tokenizer, records: examples, lossType: .good, seed: 3)
            session.resolvePath = { $0 }
            let plugin = try PluginRegistry.find("senses")
            let method = PluginMethod(
                library: plugin,
                options: try plugin.options(
                    [
                        "background_data_path": .string(t.dir + "/bg.jsonl"), "max_senses_per_example": .int(3),
                        "regularization_lambda": .double(1.0),
                        "background_smoothing": .double(smoothing),
                    ], source: "test"))
            method.log = { _ in }
            try method.prepare(session)
            XCTAssertEqual(session.trained.map(\.name), ["backpack.sense_deltas"])
            return Set(model.senseDeltas.pairs.map { Int($0.token) * model.numSenses + $0.sense })
        }
        // The formula, computed here from the host's α and the base's softmax.
        let tok = TinyModels.byteTokenizer(), k = bp.numSenses, V = bp.vocabSize
        func expected(_ s: Float) throws -> Set<Int> {
            let docs = try JSONL.texts(t.dir + "/bg.jsonl").texts.map { tok.encode($0) }
            var bg = [Float](repeating: 0, count: V * k)
            for d in docs {
                var a = [Float](repeating: 0, count: V * k), p = [Float](repeating: 0, count: V)
                try a.withUnsafeMutableBufferPointer {
                    try bp.addSenseWeights(tokens: d, rows: Array(0..<(d.count - 1)), into: $0.baseAddress!)
                }
                let ref = LogSoftmaxRows(rows: Array(0..<(d.count - 1)), V: V)
                try base.run(tokens: d, B: 1, T: d.count, head: ref, train: false)
                for r in 0..<(d.count - 1) { for v in 0..<V { p[v] += expf(ref.out[r * V + v]) } }
                for v in 0..<V { for l in 0..<k { bg[v * k + l] += (a[v * k + l] + s * p[v]) / Float(docs.count) } }
            }
            var out = Set<Int>()
            for ex in examples {
                let p = tok.encode(ex.prefix), x = tok.encode(ex.suffix)
                var g = [Float](repeating: 0, count: V * k)
                try g.withUnsafeMutableBufferPointer {
                    try bp.addSenseWeights(
                        tokens: p + x, rows: Array((p.count - 1)..<(p.count + x.count - 1)), into: $0.baseAddress!)
                }
                out.formUnion(topSenses(g: g, background: bg, lambda: 1, count: 3).map(\.index))
            }
            return out
        }
        let plain = try chosen(0), smoothed = try chosen(1e4)
        XCTAssertEqual(plain, try expected(0))
        XCTAssertEqual(smoothed, try expected(1e4))
        XCTAssertNotEqual(plain, smoothed, "smoothing changes which senses are chosen")

        let run = t.config(
            method: "senses", lr: 0.1, epochs: 3, name: "companion-senses", model: t.dir + "/companion",
            top:
                "senses: {background_data_path: \(t.dir)/bg.jsonl, max_senses_per_example: 3, regularization_lambda: 1.0, background_smoothing: 1.0}"
        )
        let outcome = try t.run(run)
        XCTAssertNil(outcome.error)
        XCTAssertLessThan(outcome.stats.last!.train_loss!, outcome.stats[0].train_loss!)
    }

    /// SmolLM2's role in §7 on a tiny scale: the ensemble of a base and its companion is the
    /// base exactly while the companion is unedited; a sense delta moves it by β times the
    /// companion's change; the β search reports controls before and after.
    func testEnsembleOfABaseAndItsCompanion() throws {
        let t = try TinyExperiment(self)
        let lm = try ModelStore.load(t.dir + "/model")
        let base = lm.model as! DecoderLM
        var cfg = tinyConfig(base, path: t.dir + "/model")
        cfg.prefix_layers = 1
        let bp = try Companion.initialize(base: base, config: cfg, seed: 6)
        let ids: [Int32] = [256, 67, 97, 112, 32, 111, 102, 32]
        func logits(_ m: CausalLM) throws -> [Float] {
            let h = LogitRows(rows: Array(0..<ids.count))
            try m.run(tokens: ids, B: 1, T: ids.count, head: h, train: false)
            return h.logits
        }
        let alone = try logits(base)
        let ens = try EnsembleLM(large: base, backpack: bp, beta: 1)
        XCTAssertEqual(try logits(ens), alone, "an unedited companion leaves the base as it is")
        bp.senseDeltas.select([(token: 67, sense: 1), (token: 32, sense: 0)], C: bp.C)
        for i in 0..<bp.senseDeltas.delta!.value.count { bp.senseDeltas.delta!.value[i] = Float(i % 5) * 0.2 }
        ens.beta = 0.5
        let mixed = try logits(ens), edited = try logits(bp)
        bp.senseDeltas.enabled = false
        let original = try logits(bp)
        bp.senseDeltas.enabled = true
        var e = edited, o = original
        ce_logsoftmax(&e, Int64(ids.count), Int32(bp.vocabSize))
        ce_logsoftmax(&o, Int64(ids.count), Int32(bp.vocabSize))
        let expected = (0..<alone.count).map { alone[$0] + 0.5 * (e[$0] - o[$0]) }
        XCTAssertLessThan(zip(mixed, expected).map { abs($0 - $1) }.max()!, 1e-4)
        XCTAssertGreaterThan(zip(mixed, alone).map { abs($0 - $1) }.max()!, 1e-3, "the edit moved the ensemble")

        // The β search with controls: the train examples as the "controls" move with the edit
        // only as much as the ensemble does; with the deltas off nothing moves at all.
        try Companion.save(bp, config: cfg, to: t.dir + "/companion", dtype: .f32)
        let exp = try Experiment(
            configPath: t.config(method: "senses", lr: 0.1, epochs: 1, name: "ens", model: t.dir + "/companion"))
        let evaluator = try exp.evaluator(tokenizer: lm.tokenizer)
        let controls = InterventionSet(
            try JSONL.examples(t.dir + "/train.jsonl", pair: false).examples, tokenizer: lm.tokenizer,
            lossType: .good, threshold: evaluator.intervention.threshold)
        bp.senseDeltas.enabled = false
        let still = try EnsembleSearch.run(ens, evaluator: evaluator, epsilon: 1e-3, controls: controls)
        XCTAssertEqual(still.weight, 1, "an ensemble identical to the base is inside every ball at β = 1")
        XCTAssertEqual(still.controls?.examples, 3)
        XCTAssertEqual(still.controls!.max_abs_nll_change, 0, accuracy: 1e-9)
        bp.senseDeltas.enabled = true
        let moved = try EnsembleSearch.run(ens, evaluator: evaluator, epsilon: 10, controls: controls)
        XCTAssertEqual(moved.weight, 1)
        XCTAssertGreaterThan(moved.controls!.max_abs_nll_change, 1e-4)
        XCTAssertEqual(moved.controls!.mean_nll_before, still.controls!.mean_nll_before, accuracy: 1e-9)
    }

    /// `export --format ensemble`: the Backpack's folder, its edit file and a spec that loads, from
    /// wherever the folder is moved, as the same ensemble; merged formats are refused for a sense edit.
    func testAnEnsembleExportLoadsAsTheSameEnsembleFromAnyFolder() throws {
        let t = try TinyExperiment(self)
        let lm = try ModelStore.load(t.dir + "/model")
        let base = lm.model as! DecoderLM
        var cfg = tinyConfig(base, path: "../model")  // relative to the companion's folder
        cfg.prefix_layers = 1
        try Companion.save(
            try Companion.initialize(base: base, config: cfg, seed: 6), config: cfg, to: t.dir + "/companion",
            dtype: .f32)
        let companion = try ModelLoader.load(t.dir + "/companion")
        let bp = companion.model as! BackpackLM
        let session = EditSession(model: bp, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        bp.senseDeltas.select([(token: 67, sense: 1), (token: 32, sense: 0)], C: bp.C)
        session.train(bp.senseDeltas.delta!)
        for i in 0..<bp.senseDeltas.delta!.value.count { bp.senseDeltas.delta!.value[i] = Float(i % 7) * 0.3 }
        let edit = t.dir + "/senses.edit.safetensors"
        try EditArtifact.save(session, method: "senses", basePath: companion.path, ball: nil, epoch: nil, to: edit)
        let ids: [Int32] = [256, 67, 97, 112, 32, 111, 102, 32]
        let expected = try Scoring.lastLogits(try EnsembleLM(large: base, backpack: bp, beta: 0.5), ids: ids)
        let plain = try Scoring.lastLogits(base, ids: ids)
        XCTAssertGreaterThan(maxAbsDiff(expected, plain), 1e-3, "the edit moves the ensemble")

        let out = t.dir + "/export"
        let target = EnsembleExport.Target(large: t.dir + "/model", beta: 0.5, edits: [edit], composition: .refuse)
        try EditExport.write(companion, session: session, format: .ensemble, to: out, ensemble: target)
        try FileManager.default.moveItem(atPath: out, toPath: t.dir + "/moved")
        for f in [
            "ensemble.yaml", "backpack/config.json", "backpack/model.safetensors", "edits/01-senses.edit.safetensors",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: t.dir + "/moved/" + f), f)
        }
        let back = try ModelLoader.load(t.dir + "/moved/ensemble.yaml")
        XCTAssertEqual(maxAbsDiff(try Scoring.lastLogits(back.model, ids: ids), expected), 0, accuracy: 1e-5)
        XCTAssertThrowsError(try EditExport.write(companion, session: session, format: .hf, to: t.dir + "/hf")) {
            XCTAssertTrue("\($0)".contains("--format ensemble"), "\($0)")
        }
        XCTAssertThrowsError(
            try EditExport.write(lm, session: nil, format: .ensemble, to: t.dir + "/e2", ensemble: target)
        ) {
            XCTAssertTrue("\($0)".contains("exports a Backpack"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: t.dir + "/e2"), "nothing half-written")
    }

    /// importance = g − λ·background, as Plugins/Senses computes it (kept in step by the test above).
    func topSenses(g: [Float], background: [Float], lambda: Float, count: Int) -> [(index: Int, score: Float)] {
        var s = (0..<g.count).map { g[$0] - lambda * background[$0] }
        let low = s.min() ?? 0
        for i in 0..<g.count where g[i] <= 0 { s[i] = low - 1 }
        return s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(count).map { ($0, s[$0]) }
    }
}
