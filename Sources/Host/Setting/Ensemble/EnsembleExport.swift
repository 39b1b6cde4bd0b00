import Engine
import Foundation
import Support

/// The companion-Backpack ensemble taken out of canonedit. It is not one model (the large
/// model's log-probabilities plus β times the edited Backpack's change), and a sense edit does
/// not fold into the companion's weights (the senses are computed by an MLP), so the export is
/// the ensemble as canonedit loads it:
///   backpack/        the Backpack's folder, copied (a companion's relative base path made absolute)
///   edits/NN-*.safetensors   the edit files, copied byte for byte, in the order given
///   ensemble.yaml    {large, backpack, edit, compose, beta}, paths relative to the folder
/// `--model DIR/ensemble.yaml` then gives the ensemble's outputs on any command.
public enum EnsembleExport {
    public struct Target {
        public var large: String  // a built-in name or a path
        public var beta: Double
        public var edits: [String]
        public var composition: EditComposition
        public init(large: String, beta: Double, edits: [String], composition: EditComposition) {
            (self.large, self.beta, self.edits, self.composition) = (large, beta, edits, composition)
        }
    }

    static func write(_ lm: LoadedModel, target: Target, to dir: String) throws {
        guard lm.model is BackpackLM else {
            throw CanonEditError(
                "--format ensemble exports a Backpack and its sense edit; \(lm.path) is \(lm.model.architecture)")
        }
        guard (0...1).contains(target.beta) else {
            throw CanonEditError("--beta must be in [0, 1], not \(target.beta)")
        }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: lm.path, isDirectory: &isDir), isDir.boolValue else {
            throw CanonEditError("\(lm.path): --format ensemble needs a Backpack loaded from its folder")
        }
        try Folder.make(dir + "/backpack")
        for name in try fm.contentsOfDirectory(atPath: lm.path).sorted() {
            var sub: ObjCBool = false
            guard fm.fileExists(atPath: lm.path + "/" + name, isDirectory: &sub), !sub.boolValue else { continue }
            try fm.copyItem(atPath: lm.path + "/" + name, toPath: dir + "/backpack/" + name)
        }
        if var config = Companion.config(of: lm.path) {
            config.base_model = absolute(config.base_model, relativeTo: lm.path)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try enc.encode(config), to: dir + "/backpack/config.json")
        }
        var edits: [String] = []
        if !target.edits.isEmpty { try Folder.make(dir + "/edits") }
        for (i, path) in target.edits.enumerated() {
            let name = String(format: "edits/%02d-", i + 1) + (path as NSString).lastPathComponent
            try fm.copyItem(atPath: path, toPath: dir + "/" + name)
            edits.append(name)
        }
        let large = absolute(target.large)
        var lines = [
            "# The companion-Backpack ensemble of canonedit (paper §7):",
            "#   log p_large + β·(log p_edited − log p_backpack).",
            "# Load it with canonedit: --model <this file>. Paths are relative to this folder.",
            "ensemble:",
            "  large: \(yamlString(large))",
            "  backpack: backpack",
        ]
        if !edits.isEmpty { lines.append("  edit: [\(edits.map(yamlString).joined(separator: ", "))]") }
        if target.composition != .refuse { lines.append("  compose: \(target.composition.rawValue)") }
        lines.append("  beta: \(target.beta)")
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: dir + "/ensemble.yaml")
    }

    /// A built-in name as it is, a path made absolute (relative ones against `folder`).
    static func absolute(_ spec: String, relativeTo folder: String = FileManager.default.currentDirectoryPath) -> String
    {
        let s = ModelStore.spec(spec, relativeTo: folder)
        return ModelStore.builtIn[s.lowercased()] != nil ? s : URL(fileURLWithPath: s).standardizedFileURL.path
    }

    /// A double-quoted YAML scalar (JSON's escaping is valid YAML).
    static func yamlString(_ s: String) -> String {
        let json = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(String(decoding: json, as: UTF8.self).dropFirst().dropLast())
    }
}
