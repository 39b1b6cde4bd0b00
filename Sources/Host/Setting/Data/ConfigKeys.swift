import Foundation
import Support
import Yams

/// Every key canonedit reads from an experiment config, and the authors' keys it accepts but
/// does not implement (docs/configs.md lists both). An unknown key is an error naming the
/// file, line and key and suggesting the nearest known one; an ignored key is a warning.
public enum ConfigKeys {
    /// Known keys per section ("" is the top level).
    static let known: [String: [String]] = [
        "": [
            "model", "threshold", "seed", "logfile", "resultsfile", "device", "save_info", "training", "validation",
            "senses", "sequential",
        ],
        "sequential": ["edits_per_step"],
        "training": [
            "dataset_path", "finetune_type", "learning_rate", "loss_type", "num_epochs", "batch_size",
            "grad_acc_steps", "suffix_pair", "regularization_type", "regularization_data_path",
            "regularization_weight", "lora", "update_rule", "method", "save_edits", "edit_dtype",
        ],
        "validation": [
            "intervention_eval_path", "degredation_general_path", "degredation_targeted_path",
            "eval_normalization", "hard_negative",
        ],
        "validation.hard_negative": ["hard_negative_path", "eval_type"],
    ]

    /// Blocks of plugin hyperparameters: checked against the plugin's schema when it is loaded.
    static let pluginBlocks: Set<String> = ["training.lora", "training.method", "senses"]

    /// The authors' keys canonedit reads and ignores, with what is ignored.
    static let ignored: [String: String] = [
        "device": "device is ignored: canonedit runs on the CPU",
        "save_info": "save_info is ignored: canonedit saves the edit certified for each ball beside the results file",
    ]

    /// Checks the keys of a config's text. Returns one warning per ignored key; throws on the
    /// first unknown key.
    public static func check(_ text: String, path: String) throws -> [String] {
        guard let root = try? Yams.compose(yaml: text), let map = root.mapping else { return [] }
        var warnings: [String] = []
        try walk(map, section: "", path: path, warnings: &warnings)
        return warnings
    }

    static func walk(_ map: Node.Mapping, section: String, path: String, warnings: inout [String]) throws {
        let allowed = known[section] ?? []
        for (k, v) in map {
            guard let key = k.string else { continue }
            let full = section.isEmpty ? key : section + "." + key
            let line = k.mark?.line ?? 0
            guard allowed.contains(key) else {
                let hint =
                    nearest(key, in: allowed).map { "did you mean \($0)?" }
                    ?? "known keys here: \(allowed.joined(separator: ", "))"
                throw CanonEditError("\(path):\(line): unknown key \(full) (\(hint))")
            }
            if let why = ignored[full] { warnings.append("\(path):\(line): \(why)") }
            if pluginBlocks.contains(full) { continue }
            if let sub = v.mapping, known[full] != nil { try walk(sub, section: full, path: path, warnings: &warnings) }
        }
    }

    /// The line of the value at a coding path (for type errors), or nil.
    static func line(of keys: [String], in text: String) -> Int? {
        guard var node = try? Yams.compose(yaml: text) else { return nil }
        var line: Int? = node.mark?.line
        for k in keys {
            guard let map = node.mapping, let (key, value) = map.first(where: { $0.key.string == k }) else { break }
            line = key.mark?.line
            node = value
        }
        return line
    }

    /// The known key closest to `key` by edit distance, if it is close enough to be a typo.
    static func nearest(_ key: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 }
        guard let (best, d) = scored, d <= max(2, key.count / 3) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var row = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(y.count, 1) where !y.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[y.count]
    }
}
