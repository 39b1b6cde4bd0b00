import Foundation
import Setting
import Support

/// Where a test rerun's data comes from. Each split-specific path of the chosen validation
/// config (the canonical examples, the evaluation set, the unconditional set; not the general
/// corpus nor the hard negatives, as the authors did) is mapped by the sweep spec's `test_data`,
/// else renamed by the authors' convention (`-val` → `-test`) when the renamed file exists. A
/// rerun whose canonical examples or evaluation set would still be the validation data is
/// refused: selecting and testing on one set is no test.
struct TestSplit {
    /// Validation path → test path, as written in the configs (the sweep spec's `test_data`).
    var explicit: [String: String] = [:]
    var replace: (String, String) = ("-val", "-test")

    /// `c` (read from `configPath`) with its test paths.
    func apply(to c: ExperimentConfig, configPath: String) throws -> ExperimentConfig {
        let paths = ConfigPaths(config: configPath)
        func test(_ p: String) -> String {
            if let t = explicit[p] { return t }
            let renamed = p.replacingOccurrences(of: replace.0, with: replace.1)
            return FileManager.default.fileExists(atPath: paths.input(renamed)) ? renamed : p
        }
        var t = c
        t.training.dataset_path = test(c.training.dataset_path)
        t.validation.intervention_eval_path = test(c.validation.intervention_eval_path)
        t.validation.degredation_targeted_path = c.validation.degredation_targeted_path.map(test)
        for (field, before, after) in [
            ("training.dataset_path", c.training.dataset_path, t.training.dataset_path),
            (
                "validation.intervention_eval_path", c.validation.intervention_eval_path,
                t.validation.intervention_eval_path
            ),
        ] where same(paths.input(before), paths.input(after)) {
            throw CanonEditError(
                "\(configPath): \(field) \(before): the test rerun would use the validation data (no file named "
                    + "with \(replace.0) → \(replace.1), and the sweep spec's test_data does not map it). Name the "
                    + "test split in the sweep spec: test_data: {\(before): <test file>}")
        }
        return t
    }

    /// One file, or two files with the same bytes.
    func same(_ a: String, _ b: String) -> Bool {
        a == b || (MappedFile.contents(a).map { x in MappedFile.contents(b).map { x == $0 } ?? false } ?? false)
    }
}
