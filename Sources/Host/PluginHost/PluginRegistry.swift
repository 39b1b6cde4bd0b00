import Engine
import Foundation
import Setting
import Support

/// Finds plugins: `lib*.so` files in the folder holding the canonedit executable (where the
/// build puts the shipped plugins) and in each `--plugin-path` folder.
public enum PluginRegistry {
    public static func defaultFolders() -> [String] {
        var out = [HostPaths.folder]
        if let env = ProcessInfo.processInfo.environment["CANONEDIT_PLUGIN_PATH"] {
            out += env.split(separator: ":").map(String.init)
        }
        return out
    }

    /// Every plugin found, and why each other library was passed over.
    public static func discover(extra: [String] = []) -> (plugins: [PluginLibrary], skipped: [String]) {
        var plugins: [PluginLibrary] = [], skipped: [String] = []
        var seen = Set<String>()
        for folder in extra + defaultFolders() {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            for f in files where f.hasPrefix("lib") && f.hasSuffix(".so") {
                let path = folder + "/" + f
                guard !seen.contains(path) else { continue }
                seen.insert(path)
                do {
                    let p = try PluginLibrary(path: path)
                    if !plugins.contains(where: { $0.id == p.id }) {
                        plugins.append(p)
                    } else {
                        skipped.append(path + duplicateNote(p.id))
                    }
                } catch { skipped.append("\(error)") }
            }
        }
        return (plugins, skipped)
    }

    /// The plugin with `id`. A --plugin-path library may stand in for a shipped one of the same
    /// id (a method author's own build), and says so through `note`; two --plugin-path libraries,
    /// or two shipped ones, with one id are refused: which ran would depend on the folder order.
    public static func find(
        _ id: String, extra: [String] = [],
        note: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) throws -> PluginLibrary {
        let (plugins, skipped) = discover(extra: extra)
        guard let p = plugins.first(where: { $0.id == id }) else {
            throw CanonEditError(
                "no plugin with id \(id) (found: \(plugins.map(\.id).joined(separator: ", "))); build them with "
                    + "`swift build` or add --plugin-path"
            )
        }
        let again = skipped.filter { $0.hasSuffix(duplicateNote(id)) }.map {
            String($0.dropLast(duplicateNote(id).count))
        }
        guard !again.isEmpty else { return p }
        let shipped = Set(defaultFolders().map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path })
        func isShipped(_ path: String) -> Bool {
            shipped.contains(
                URL(fileURLWithPath: (path as NSString).deletingLastPathComponent).resolvingSymlinksInPath().path)
        }
        guard !isShipped(p.path), again.allSatisfy(isShipped) else {
            throw CanonEditError(
                "plugin id \(id) is in more than one library: \(([p.path] + again).joined(separator: ", ")); give the "
                    + "plugin its own id, or drop the --plugin-path that holds the copy")
        }
        let replaced = again.joined(separator: ", ")
        note("note: plugin \(id) from \(p.path) (--plugin-path) stands in for the shipped \(replaced)")
        return p
    }

    static func duplicateNote(_ id: String) -> String { ": plugin id \(id) already loaded from an earlier folder" }
}
