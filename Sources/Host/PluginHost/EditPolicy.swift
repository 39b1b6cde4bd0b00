import Engine
import Foundation
import Setting
import Support

/// What an edit file may change, asked of the plugin it names: the plugin's `describe` (ABI
/// 1.3), run with the options the file records (a hook-based edit) or the plugin's defaults.
public enum EditPolicy {
    /// The answer for one edit, or "nothing" when its plugin is not found or cannot say.
    public static func methodChanges(
        model: CausalLM, pluginPaths: [String] = []
    ) -> (EditArtifact.Info) throws -> (String) -> Bool {
        { info in
            guard let library = try? PluginRegistry.find(info.method, extra: pluginPaths) else { return { _ in false } }
            let options: [String: PluginOption]
            if let record = info.method_plugin, record.id == library.id {
                options = try PluginMethod.forEdit(record, pluginPaths: pluginPaths).options
            } else {
                options = try library.options([:], source: "the \(library.id) plugin's defaults")
            }
            let run = OutlineRun(
                examples: info.sequential_steps ?? 1, longestExample: 0, sequential: info.sequential_steps != nil)
            let d = try library.describe(model: OutlineModel(model: model), options: options, run: run)
            return d.described ? d.allowsChanging : { _ in false }
        }
    }

    /// Sets a session up to load the plugins its edit files name and to ask them what they change.
    public static func install(on session: EditSession, pluginPaths: [String] = []) {
        session.loadMethod = { try PluginMethod.forEdit($0, pluginPaths: pluginPaths) }
        session.methodChanges = methodChanges(model: session.model, pluginPaths: pluginPaths)
    }
}
