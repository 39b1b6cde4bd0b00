import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// A small YAML file cannot ask for unbounded work, and numbers that make no sense are errors.
final class YAMLLimitTests: XCTestCase {
    func testAnAliasBombIsRefusedAtOnce() throws {
        var lines = ["model: x", "threshold: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1...9 {
            lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]")
        }
        let path = temporaryFolder(self) + "/bomb.yaml"
        try AtomicFile.write(Data((lines + ["training: {method: {x: *a9}}"]).joined(separator: "\n").utf8), to: path)
        let started = Date()
        XCTAssertThrowsError(try ExperimentConfig.load(path)) {
            XCTAssertTrue("\($0)".contains("aliases are expanded (an alias bomb?)"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    /// A list or mapping used as a mapping key (found by the spec fuzz target: Yams trapped on
    /// it) is refused by every YAML reader, naming the file and the line.
    func testAMappingKeyThatIsAListIsRefused() throws {
        let dir = temporaryFolder(self)
        let text = "ensemble: {large: model, [a.safetensors], beta: 0.5}\n"
        try AtomicFile.write(Data(text.utf8), to: dir + "/spec.yaml")
        XCTAssertThrowsError(try EnsembleSpec.load(dir + "/spec.yaml")) {
            XCTAssertTrue("\($0)".contains("spec.yaml: a mapping key at line 1 is a list or mapping"), "\($0)")
        }
        try AtomicFile.write(Data("model: x\n? [a, b]\n: 1\n".utf8), to: dir + "/config.yaml")
        XCTAssertThrowsError(try ExperimentConfig.load(dir + "/config.yaml")) {
            XCTAssertTrue("\($0)".contains("is a list or mapping"), "\($0)")
        }
    }

    /// Each names the file, the line of the key, and the key.
    func testNonsenseNumbersAreErrorsNamingTheKey() throws {
        let dir = temporaryFolder(self)
        for (field, fragment) in [
            ("regularization_weight: .nan", "c.yaml:9: training.regularization_weight must be a number ≥ 0"),
            ("regularization_weight: -1", "c.yaml:9: training.regularization_weight must be a number ≥ 0"),
            ("batch_size: 0", "c.yaml:9: training.batch_size must be 1…4096, not 0"),
            ("grad_acc_steps: 0", "c.yaml:9: training.grad_acc_steps must be ≥ 1, not 0"),
            ("update_rule: sometimes", "c.yaml:9: training.update_rule is sometimes; use authors or accumulate"),
        ] {
            let path = dir + "/c.yaml"
            try AtomicFile.write(
                Data(
                    """
                    model: x
                    threshold: 1
                    training:
                      dataset_path: a
                      finetune_type: full
                      learning_rate: 0
                      loss_type: good
                      num_epochs: 1
                      \(field)
                    validation: {intervention_eval_path: e, degredation_general_path: g}
                    """.utf8), to: path)
            XCTAssertThrowsError(try ExperimentConfig.load(path), field) {
                XCTAssertTrue("\($0)".contains(fragment), "\(field): \($0)")
            }
        }
        let nan = dir + "/t.yaml"
        try AtomicFile.write(
            Data(
                """
                model: x
                threshold: .nan
                training: {dataset_path: a, finetune_type: full, learning_rate: 0, loss_type: good, num_epochs: 1}
                validation: {intervention_eval_path: e, degredation_general_path: g}
                """.utf8), to: nan)
        XCTAssertThrowsError(try ExperimentConfig.load(nan)) {
            XCTAssertTrue("\($0)".contains("t.yaml:2: threshold must be a finite"), "\($0)")
        }
    }
}
