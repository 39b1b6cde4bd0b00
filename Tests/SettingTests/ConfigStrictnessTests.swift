import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Configs are strict: an unknown key or a value of the wrong type is an error naming the
/// file, line and key; the authors' keys canonedit ignores are warnings, one each.
final class ConfigStrictnessTests: XCTestCase {
    func config(_ training: String = "", top: String = "", validation: String = "") throws -> String {
        let path = temporaryFolder(self) + "/c.yaml"
        let text = """
            model: x
            threshold: 1.6
            \(top)
            training:
              dataset_path: a.jsonl
              finetune_type: lora
              learning_rate: 0.001
              loss_type: good
              num_epochs: 2
            \(training)
            validation:
              intervention_eval_path: e.jsonl
              degredation_general_path: g.jsonl
            \(validation)
            """
        try AtomicFile.write(Data(text.utf8), to: path)
        return path
    }

    func testAnUnknownKeyIsAnErrorWithItsLineAndTheNearestKnownKey() throws {
        let path = try config("  regularization_weigth: 1.0")
        XCTAssertThrowsError(try ExperimentConfig.load(path)) {
            XCTAssertEqual(
                "\($0)", "\(path):10: unknown key training.regularization_weigth (did you mean regularization_weight?)")
        }
        let far = try config(top: "colour_scheme: dark")
        XCTAssertThrowsError(try ExperimentConfig.load(far)) {
            XCTAssertTrue("\($0)".contains(":3: unknown key colour_scheme (known keys here: model, threshold"), "\($0)")
        }
        let nested = try config(validation: "  hard_negative: {hard_negative_path: h.jsonl, evaltype: suffix}")
        XCTAssertThrowsError(try ExperimentConfig.load(nested)) {
            XCTAssertTrue("\($0)".contains("unknown key validation.hard_negative.evaltype (did you mean eval_type?)"))
        }
    }

    func testAValueOfTheWrongTypeNamesItsLine() throws {
        let path = try config("  grad_acc_steps: five")
        XCTAssertThrowsError(try ExperimentConfig.load(path)) {
            XCTAssertTrue("\($0)".hasPrefix("\(path):10: training.grad_acc_steps"), "\($0)")
        }
    }

    func testTheAuthorsIgnoredKeysWarnOnceEach() throws {
        let path = try config(
            "  regularization_weight: 0.5\n  lora: {lora_rank: 4}", top: "device: cuda\nsave_info: {criteria: league}")
        let (cfg, warnings) = try ExperimentConfig.loadChecked(path)
        XCTAssertEqual(cfg.training.finetune_type, "lora")
        XCTAssertEqual(warnings.count, 3, "\(warnings)")
        XCTAssertTrue(warnings[0].hasSuffix(":3: device is ignored: canonedit runs on the CPU"), warnings[0])
        XCTAssertTrue(warnings[1].contains(":4: save_info is ignored"), warnings[1])
        XCTAssertTrue(warnings[2].contains("regularization_weight is 0.5 but there is no regularization_data_path"))
    }

    func testAMissingThresholdComesFromTheTaskOfTheDataPath() throws {
        let path = temporaryFolder(self) + "/c.yaml"
        try AtomicFile.write(
            Data(
                """
                model: x
                training: {dataset_path: data/company_ceo/train.jsonl, finetune_type: full, learning_rate: 0, \
                loss_type: good, num_epochs: 1}
                validation: {intervention_eval_path: e, degredation_general_path: g}
                """.utf8), to: path)
        let (cfg, warnings) = try ExperimentConfig.loadChecked(path)
        XCTAssertEqual(cfg.threshold, TaskKind.all[1].threshold)
        XCTAssertEqual(warnings, ["\(path): no threshold; using the company_ceo task's 2.995732273553991"])
    }
}
