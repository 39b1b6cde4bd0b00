import Engine
import Foundation
import Support

/// What `--model` and a config's `model:` may name: anything ModelStore loads (a built-in
/// name, a GGUF file, a Hugging Face or companion folder), or an ensemble spec (.yaml, .yml,
/// .json), which needs edits and so lives above the engine.
public enum ModelLoader {
    public static func load(_ spec: String) throws -> LoadedModel {
        let path = try ModelStore.resolve(spec)
        if [".yaml", ".yml", ".json"].contains(where: path.hasSuffix) {
            return try LoadChain.enter(path) { try EnsembleSpec.load(path) }
        }
        return try ModelStore.load(path)
    }
}
