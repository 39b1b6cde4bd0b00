import Kernels
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

#if canImport(FoundationXML)
import FoundationXML
#endif

final class EnsembleTests: XCTestCase {
    let backpackDir = Fixtures.folder + "/zoo/backpack"
    let ids: [Int32] = [72, 101, 108, 108, 111, 32, 119, 111]

    func logits(_ m: CausalLM) throws -> [Float] {
        let h = LogitRows(rows: Array(0..<ids.count))
        try m.run(tokens: ids, B: 1, T: ids.count, head: h, train: false)
        return h.logits
    }

    func testEnsembleIsTheLargeModelAtBetaZeroOrWithAnUneditedBackpack() throws {
        let large = try TinyModels.llama(seed: 8)
        let bp = try ModelStore.load(backpackDir).model as! BackpackLM
        let alone = try logits(large)
        let ens = try EnsembleLM(large: large, backpack: bp, beta: 0)
        XCTAssertEqual(try logits(ens), alone, "β = 0")
        ens.beta = 1
        XCTAssertEqual(try logits(ens), alone, "unedited Backpack")
        // edited: logits = large + β (log p_edited − log p_original)
        bp.senseDeltas.select([(token: 108, sense: 1), (token: 72, sense: 3)], C: bp.C)
        for i in 0..<bp.senseDeltas.delta!.value.count { bp.senseDeltas.delta!.value[i] = Float(i % 7) * 0.05 }
        ens.beta = 0.7
        let mixed = try logits(ens)
        let edited = try logits(bp)
        bp.senseDeltas.enabled = false
        let original = try logits(bp)
        bp.senseDeltas.enabled = true
        var e = edited, o = original
        ce_logsoftmax(&e, Int64(ids.count), 257)
        ce_logsoftmax(&o, Int64(ids.count), 257)
        let expected = (0..<alone.count).map { alone[$0] + 0.7 * (e[$0] - o[$0]) }
        XCTAssertLessThan(maxAbsDiff(mixed, expected), 1e-4)
        XCTAssertGreaterThan(maxAbsDiff(mixed, alone), 1e-3, "the edit moved the ensemble")
    }

    func testEditArtifactsRoundTripAndRefuseCorruptionOrAnotherBase() throws {
        let t = try TinyExperiment(self)
        FileManager.default.createFile(atPath: t.dir + "/bg.jsonl", contents: Data("{\"text\": \"a bg text\"}\n".utf8))
        let cfg = t.config(
            method: "senses", lr: 0.05, epochs: 2, name: "sen", model: backpackDir,
            top: "senses: {background_data_path: \(t.dir)/bg.jsonl, max_senses_per_example: 3}")
        let outcome = try t.run(cfg)
        let edit = t.dir + "/sen.edit-0.001.safetensors"
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: edit)
                || outcome.stats.dropFirst().allSatisfy { $0.general >= outcome.stats[0].general * 1.001 },
            "\((try? FileManager.default.contentsOfDirectory(atPath: t.dir)) ?? []) \(outcome.stats.map(\.general))")
        // Train an edit in memory, save it, apply it to a fresh copy: same logits; revert: original.
        let lm = try ModelStore.load(backpackDir)
        let bp = lm.model as! BackpackLM
        let before = try logits(bp)
        let s = EditSession(model: bp, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 1)
        bp.senseDeltas.select([(token: 108, sense: 2)], C: bp.C)
        s.train(bp.senseDeltas.delta!)
        for i in 0..<bp.C { bp.senseDeltas.delta!.value[i] = 0.1 * Float(i % 5) }
        let lora = try s.attachLowRank(module: "backpack.gpt2_model.h.1.mlp.c_fc", rank: 2, scale: 0.5)
        for i in 0..<lora.A.value.count { lora.A.value[i] = 0.01 * Float(i % 9) }
        for i in 0..<lora.B.value.count { lora.B.value[i] = 0.02 }
        let editedLogits = try logits(bp)
        let path = temporaryFolder(self) + "/e.safetensors"
        try EditArtifact.save(s, method: "test", basePath: backpackDir, ball: "0.0001", epoch: 3, to: path)
        let fresh = try ModelStore.load(backpackDir)
        let s2 = EditSession(model: fresh.model, tokenizer: fresh.tokenizer, examples: [], lossType: .good, seed: 1)
        let info = try EditArtifact.apply(path, to: s2)
        XCTAssertEqual(info.senses, [[108, 2]])
        XCTAssertEqual(info.adapters.map(\.module), ["backpack.gpt2_model.h.1.mlp.c_fc"])
        XCTAssertLessThan(maxAbsDiff(try logits(fresh.model), editedLogits), 1e-5)
        s2.revert()
        XCTAssertLessThan(maxAbsDiff(try logits(fresh.model), before), 1e-6)
        // corruption is detected
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0x40
        let bad = temporaryFolder(self) + "/bad.safetensors"
        try bytes.write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try EditArtifact.apply(bad, to: s2)) {
            XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)")
        }
        // and another base model is refused
        let other = try ModelStore.load(Fixtures.folder + "/zoo/gpt2")
        let s3 = EditSession(model: other.model, tokenizer: other.tokenizer, examples: [], lossType: .good, seed: 1)
        XCTAssertThrowsError(try EditArtifact.apply(path, to: s3)) {
            XCTAssertTrue("\($0)".contains("not this model"), "\($0)")
        }
    }

    func testBetaSearchStopsAtTheFirstWeightInsideTheBall() throws {
        let large = try TinyModels.llama(seed: 8)
        let bp = try ModelStore.load(backpackDir).model as! BackpackLM
        let tok = TinyModels.byteTokenizer()
        let ev = Evaluator(
            intervention: InterventionSet(
                [Example(prefix: "Hel", suffix: "lo", suffix2: nil, subject: nil, line: 1)],
                tokenizer: tok, lossType: .good, threshold: 3),
            general: TextSet(["a short text", "two words"], tokenizer: tok), targeted: nil, hardNegative: nil)
        // Unedited: β = 1 changes nothing, so it is inside at once.
        let ens = try EnsembleLM(large: large, backpack: bp, beta: 1)
        let r0 = try EnsembleSearch.run(ens, evaluator: ev, epsilon: 1e-4)
        XCTAssertEqual(r0.weight, 1.0)
        XCTAssertEqual(r0.ensemble.general, r0.initial.general)
        // A large edit: the search steps down and ends inside the ball (or at β ≈ 0).
        bp.senseDeltas.select((0..<20).map { (token: Int32(97 + $0), sense: $0 % 4) }, C: bp.C)
        for i in 0..<bp.senseDeltas.delta!.value.count { bp.senseDeltas.delta!.value[i] = 2 * Float((i * 31) % 11 - 5) }
        let r = try EnsembleSearch.run(ens, evaluator: ev, epsilon: 1e-4)
        XCTAssertLessThan(r.weight, 1.0)
        XCTAssertEqual(
            r.tried.map { $0[0] }.prefix(3).map { ($0 * 10).rounded() / 10 },
            [1.0, 0.9, 0.8].prefix(r.tried.count).map { $0 })
        XCTAssertLessThan(r.ensemble.general, r.initial.general * (1 + 1e-4))
    }
}

final class SenseViewTests: XCTestCase {
    func testSenseViewMarksEditedSensesAndWritesValidSVG() throws {
        let lm = try ModelStore.load(Fixtures.folder + "/zoo/backpack")
        let bp = lm.model as! BackpackLM
        let before = try SenseView.of(bp, tokenizer: lm.tokenizer, id: 108, count: 3)
        XCTAssertEqual(before.count, 4)
        bp.senseDeltas.select([(token: 108, sense: 2)], C: bp.C)
        for i in 0..<bp.C { bp.senseDeltas.delta!.value[i] = 20 * bp.embed.value[65 * bp.C + i] }  // push sense 2 toward "A"
        let after = try SenseView.of(bp, tokenizer: lm.tokenizer, id: 108, count: 3, edited: [2])
        XCTAssertNotEqual(after[2].top, before[2].top, "the edited sense now points elsewhere")
        XCTAssertEqual(after.map(\.edited), [false, false, true, false])
        XCTAssertEqual(after[0].top, before[0].top, "other senses are unchanged")
        let view = SenseView(token: "l", id: 108, before: before, after: after)
        let doc = try XMLDocument(xmlString: view.svg)
        XCTAssertEqual(doc.rootElement()?.name, "svg")
    }

    func testSpacesAreVisibleScoresShownAndEditedSensesShadedSideBySide() throws {
        let w = { (t: String, s: Float) in SenseView.Word(token: t, score: s) }
        let before = (0..<2).map {
            SenseView.Sense(sense: $0, top: [w(" K", 4.25), w("K", 3)], bottom: [w("x", -2)], edited: false)
        }
        var after = before
        after[1] = SenseView.Sense(sense: 1, top: [w(" Kig", 9.5), w("ali", 8)], bottom: [w("y", -3)], edited: true)
        let view = SenseView(token: " Rwanda", id: 7, before: before, after: after)
        XCTAssertTrue(view.text.contains("␣K (4.25)  K (3.00)"), view.text)
        XCTAssertTrue(view.text.contains("sense 1 (edited)") && view.text.contains("sense 0 (unchanged)"), view.text)
        XCTAssertTrue(view.text.contains("after   + ␣Kig (9.50)"), view.text)
        let svg = view.svg
        XCTAssertEqual(svg.components(separatedBy: "class=\"edited\"").count - 1, 1, "one shaded row")
        XCTAssertTrue(svg.contains(">␣K 4.25<") && svg.contains(">K 3.00<"), "a space is visible, scores shown")
        // After the edit sits right of before, on the same row.
        let xs = [">␣K 4.25<", ">␣Kig 9.50<"].map { marker -> Int in
            let r = svg.range(of: marker)!
            let line = svg[..<r.lowerBound].split(separator: "\n").last!
            return Int(line.components(separatedBy: "x=\"")[1].split(separator: "\"")[0])!
        }
        XCTAssertGreaterThan(xs[1], xs[0])
        XCTAssertNoThrow(try XMLDocument(xmlString: svg))
    }
}

final class EnsembleSpecTests: XCTestCase {
    func testModelCanNameAnEnsembleSpec() throws {
        let t = try TinyExperiment(self)
        let spec = t.dir + "/ens.yaml"
        FileManager.default.createFile(
            atPath: spec,
            contents: Data("ensemble:\n  large: model\n  backpack: \(Fixtures.folder)/zoo/backpack\n  beta: 0.5\n".utf8)
        )
        let ens = try ModelLoader.load(spec)
        XCTAssertTrue(ens.model is EnsembleLM)
        XCTAssertEqual((ens.model as! EnsembleLM).beta, 0.5)
        let large = try ModelStore.load(t.dir + "/model")
        let ids: [Int32] = [72, 101, 108, 108]
        // an unedited Backpack leaves the large model's scores as they are
        XCTAssertEqual(try Scoring.tokenNLL(ens.model, ids: ids), try Scoring.tokenNLL(large.model, ids: ids))
    }

    /// An ensemble spec that names itself, or two that name each other, is refused with the
    /// cycle (each recursed until the stack overflowed).
    func testAnEnsembleBetaOutsideZeroToOneIsRefused() throws {
        let dir = temporaryFolder(self)
        let spec = dir + "/e.yaml"
        try "ensemble: {large: \(Fixtures.folder)/zoo/llama, backpack: \(Fixtures.folder)/zoo/backpack, beta: -1}\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelLoader.load(spec)) {
            XCTAssertTrue("\($0)".contains("beta must be in [0, 1], not -1.0"), "\($0)")
        }
    }

    func testAnEnsembleThatNamesItselfIsRefused() throws {
        let dir = temporaryFolder(self)
        try "ensemble: {large: self.yaml, backpack: self.yaml}\n".write(
            toFile: dir + "/self.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelLoader.load(dir + "/self.yaml")) {
            XCTAssertTrue("\($0)".contains("the model names itself"), "\($0)")
        }
        try "ensemble: {large: b.yaml, backpack: b.yaml}\n".write(
            toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try "ensemble: {large: a.yaml, backpack: a.yaml}\n".write(
            toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelLoader.load(dir + "/a.yaml")) {
            XCTAssertTrue("\($0)".contains("a.yaml → ") && "\($0)".contains("b.yaml → "), "\($0)")
        }
    }

    /// A spec whose YAML is a scalar (found by the spec fuzz target: it trapped in
    /// JSONSerialization) is an error naming the file.
    func testASpecThatIsNotAMappingIsRefused() throws {
        let dir = temporaryFolder(self)
        for (name, text) in [("scalar.yaml", "name:] tiny\ndata$rooer0\n"), ("plain.yaml", "just words\n")] {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try EnsembleSpec.load(dir + "/" + name)) {
                XCTAssertTrue("\($0)".contains(dir + "/" + name), "\($0)")
            }
        }
    }
}
