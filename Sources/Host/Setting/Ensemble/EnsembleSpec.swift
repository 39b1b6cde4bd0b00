import Engine
import Foundation
import Support

/// An `ensemble:` spec file (YAML or JSON): {large, backpack, edit (optional: a file or a list),
/// compose (optional: refuse or add, as `--compose`), beta}. Paths are relative to the spec's
/// folder. The edits are applied to the Backpack, in order, before it joins.
public enum EnsembleSpec {
    public static func load(_ path: String) throws -> LoadedModel {
        guard let data = MappedFile.contents(path) else { throw CanonEditError("\(path): cannot read") }
        // YAML errors (limits, keys that are lists) name the file and line themselves.
        let json = try yamlToJSON(data, path: path)
        guard let obj = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
            let e = obj["ensemble"] as? [String: Any], let largeName = e["large"] as? String,
            let bpName = e["backpack"] as? String
        else {
            throw CanonEditError(
                "\(path): an ensemble spec needs ensemble: {large: MODEL, backpack: MODEL, edit: FILE or [FILE]?, "
                    + "compose: refuse or add?, beta: NUMBER?}")
        }
        let dir = (path as NSString).deletingLastPathComponent
        func rel(_ p: String) -> String {
            p.hasPrefix("/") || FileManager.default.fileExists(atPath: p)
                ? p : (dir as NSString).appendingPathComponent(p)
        }
        let large = try ModelLoader.load(ModelStore.builtIn[largeName.lowercased()] != nil ? largeName : rel(largeName))
        let bpLoaded = try ModelLoader.load(rel(bpName))
        guard let bp = bpLoaded.model as? BackpackLM else {
            throw CanonEditError("\(path): \(bpName) is not a Backpack")
        }
        let edits = (e["edit"] as? String).map { [$0] } ?? (e["edit"] as? [String]) ?? []
        guard e["edit"] == nil || !edits.isEmpty else { throw CanonEditError("\(path): edit must be a file or a list") }
        let compose = e["compose"].map { ($0 as? String).flatMap(EditComposition.init(rawValue:)) } ?? .refuse
        guard let compose else { throw CanonEditError("\(path): compose must be refuse or add") }
        if !edits.isEmpty {
            let session = EditSession(model: bp, tokenizer: bpLoaded.tokenizer, examples: [], lossType: .good, seed: 0)
            let stack = EditStack(session: session, composition: compose)
            for edit in edits { try stack.apply(rel(edit), trust: false) }
        }
        let beta = (e["beta"] as? Double).map(Float.init) ?? 1
        // β weighs the Backpack's change: outside [0, 1] it extrapolates, and export refuses it too.
        guard (0...1).contains(beta) else { throw CanonEditError("\(path): beta must be in [0, 1], not \(beta)") }
        return LoadedModel(
            model: try EnsembleLM(large: large.model, backpack: bp, beta: beta), tokenizer: large.tokenizer,
            path: path, name: "ensemble of \(large.name) and \(bpLoaded.name)")
    }

    static func yamlToJSON(_ data: Data, path: String) throws -> Data {
        if let _ = try? JSONSerialization.jsonObject(with: data) { return data }
        let text = String(decoding: data, as: UTF8.self)
        let any = try YAMLBridge.load(text, path: path)
        // JSONSerialization traps on a top level that is not a mapping or list (a YAML scalar).
        guard JSONSerialization.isValidJSONObject(any) else {
            throw CanonEditError("\(path): an ensemble spec must be a YAML mapping with an ensemble: key")
        }
        return try JSONSerialization.data(withJSONObject: any)
    }
}
