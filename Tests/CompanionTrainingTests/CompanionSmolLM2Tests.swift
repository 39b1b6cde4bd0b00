import TestSupport
import XCTest

@testable import CompanionTraining
@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// The committed companion of SmolLM2 (companions/smollm2) on real weights: it loads with
/// its checksum and base identity, it tracks SmolLM2's predictions, and a sense edit of it
/// carries into SmolLM2 through the ensemble while control facts and general text stay put.
final class CompanionSmolLM2Tests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    let companionDir = root + "/companions/smollm2"

    func generalDocs(_ n: Int) throws -> [String] {
        Array(try JSONL.texts(Self.root + "/data/builtin/general.jsonl").texts.prefix(n))
    }

    func testCommittedCompanionTracksSmolLM2() throws {
        let lm = try ModelStore.load(companionDir)
        let bp = try XCTUnwrap(lm.model as? BackpackLM)
        XCTAssertEqual(bp.architecture, "backpack-companion")
        XCTAssertEqual(bp.parameterCount, 10_629_248)
        XCTAssertEqual(bp.numSenses, 16)
        let docs = try generalDocs(4).map { Array(lm.tokenizer.encode($0).prefix(128)) }
        let f = try CompanionCheck.run(companion: bp, base: try XCTUnwrap(bp.base), documents: docs)
        // An untrained companion is about 7 nats/token away; the trained one about 2.1.
        XCTAssertLessThan(f.kl, 2.6, "KL(SmolLM2 ‖ companion) on SmolLM2's own text")
        XCTAssertLessThan(f.base_nll, f.companion_nll)
    }

    func testSenseEditCarriesIntoSmolLM2ThroughTheEnsemble() throws {
        let dir = temporaryFolder(self)
        let data = Self.root + "/data/builtin/country_capital"
        let countries: Set<String> = ["Mauritius", "Kyrgyzstan", "Malawi"]
        func rows(_ file: String, _ keep: ([String: Any]) -> Bool) throws -> String {
            try String(contentsOfFile: data + "/" + file, encoding: .utf8).split(separator: "\n")
                .filter { keep(try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]) }.joined(
                    separator: "\n") + "\n"
        }
        try rows("country_capital_train.jsonl") { countries.contains($0["country"] as! String) }.write(
            toFile: dir + "/train.jsonl", atomically: true, encoding: .utf8)
        try rows("country_capital_eval.jsonl") { countries.contains($0["country"] as! String) }.write(
            toFile: dir + "/eval.jsonl", atomically: true, encoding: .utf8)
        let general = try generalDocs(8).map {
            String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0]), as: UTF8.self)
        }
        try (general.joined(separator: "\n") + "\n").write(
            toFile: dir + "/general.jsonl", atomically: true, encoding: .utf8)
        try (general.prefix(3).joined(separator: "\n") + "\n").write(
            toFile: dir + "/kl.jsonl", atomically: true, encoding: .utf8)
        let config = """
            model: \(companionDir)
            seed: 0
            threshold: 1.6094379124341003
            logfile: \(dir)/senses.log.jsonl
            resultsfile: \(dir)/senses.results.json
            training:
              dataset_path: \(dir)/train.jsonl
              finetune_type: senses
              loss_type: good
              suffix_pair: false
              learning_rate: 0.01
              num_epochs: 10
              batch_size: 1
              grad_acc_steps: 1
              regularization_type: KL
              regularization_data_path: \(dir)/kl.jsonl
              regularization_weight: 1.0
            senses: {background_data_path: \(dir)/general.jsonl, background_smoothing: 1.0, max_senses_per_example: 8, regularization_lambda: 1000}
            validation:
              intervention_eval_path: \(dir)/eval.jsonl
              degredation_general_path: \(dir)/general.jsonl
            """
        try config.write(toFile: dir + "/senses.yaml", atomically: true, encoding: .utf8)
        let outcome = try Experiment(configPath: dir + "/senses.yaml").run()
        XCTAssertNil(outcome.error)
        XCTAssertLessThan(outcome.stats.last!.train_loss!, 0.6 * outcome.stats[1].train_loss!)

        // Carry the edit certified in B_1e-4 into SmolLM2.
        let companion = try ModelStore.load(companionDir)
        let bp = companion.model as! BackpackLM
        let info = try EditArtifact.apply(
            dir + "/senses.edit-0.0001.safetensors",
            to: EditSession(model: bp, tokenizer: companion.tokenizer, examples: [], lossType: .good, seed: 0))
        XCTAssertEqual(info.senses.count, 24, "8 senses for each of the 3 facts")
        let smol = try Fixtures.smollm2()
        let ensemble = try EnsembleLM(large: smol.model, backpack: bp, beta: 0)
        let tok = smol.tokenizer
        let edited = InterventionSet(
            try JSONL.examples(dir + "/eval.jsonl", pair: false).examples, tokenizer: tok, lossType: .good,
            threshold: 1.6094379124341003)
        let controls = InterventionSet(
            try JSONL.examples(data + "/country_capital_controls.jsonl", pair: false).examples, tokenizer: tok,
            lossType: .good, threshold: 1.6094379124341003)
        let text = TextSet(try JSONL.texts(dir + "/general.jsonl").texts, tokenizer: tok)
        let before = (try edited.sums(ensemble).s1, try controls.sums(ensemble).s1, try text.meanNLL(ensemble))
        ensemble.beta = 1
        let after = (try edited.sums(ensemble).s1, try controls.sums(ensemble).s1, try text.meanNLL(ensemble))
        let mean = { (x: [Double]) in x.reduce(0, +) / Double(x.count) }
        XCTAssertLessThan(
            mean(after.0), mean(before.0) - 0.5,
            "the edited facts' paraphrases become likelier (summed NLL \(mean(before.0)) → \(mean(after.0)))")
        XCTAssertLessThan(zip(before.1, after.1).map { abs($0 - $1) }.max()!, 1e-6, "control facts do not move")
        XCTAssertLessThan(after.2, before.2 * (1 + 1e-4), "general text stays inside B_1e-4")
    }
}
