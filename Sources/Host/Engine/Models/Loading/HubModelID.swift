import Foundation
import Support

/// A Hugging Face model id ("EleutherAI/pythia-70m") as `--model` or a config's `model:`. It is
/// looked up, in order, as models/ORG--NAME and models/ORG/NAME in each models folder, then in
/// the Hugging Face cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else ~/.cache/huggingface/hub)
/// as models--ORG--NAME/snapshots/REV: the revision refs/main names, else the newest. A
/// snapshot is used as a model folder when it has config.json, or as its one .gguf file.
public enum HubModelID {
    /// "org/name" with no other slashes, not a path (./, ../, /) and not an existing file.
    public static func looksLikeID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
            && !s.hasPrefix("/") && !FileManager.default.fileExists(atPath: s)
    }

    public static var cacheFolder: String {
        let env = ProcessInfo.processInfo.environment
        if let hub = env["HF_HUB_CACHE"], !hub.isEmpty { return hub }
        if let home = env["HF_HOME"], !home.isEmpty { return home + "/hub" }
        return NSHomeDirectory() + "/.cache/huggingface/hub"
    }

    /// The folder or file `id` names, or an error listing every place it looked.
    public static func resolve(_ id: String) throws -> String {
        let fm = FileManager.default
        var looked: [String] = []
        for folder in ModelStore.modelsFolders {
            for candidate in [folder + "/" + id.replacingOccurrences(of: "/", with: "--"), folder + "/" + id]
            where !looked.contains(candidate) {
                if fm.fileExists(atPath: candidate) { return candidate }
                looked.append(candidate)
            }
        }
        let repo = cacheFolder + "/models--" + id.replacingOccurrences(of: "/", with: "--")
        looked.append(repo + "/snapshots/*")
        if let snapshot = try snapshot(repo) {
            if fm.fileExists(atPath: snapshot + "/config.json") { return snapshot }
            let ggufs = ((try? fm.contentsOfDirectory(atPath: snapshot)) ?? []).filter { $0.hasSuffix(".gguf") }
                .sorted()
            if ggufs.count == 1 { return snapshot + "/" + ggufs[0] }
            throw CanonEditError(
                "model \(id): \(snapshot) has no config.json and "
                    + (ggufs.isEmpty ? "no .gguf file" : "several .gguf files (\(ggufs.joined(separator: ", ")))")
                    + "; give the file's path")
        }
        throw CanonEditError(
            "model \(id): not found; looked in " + looked.joined(separator: ", ")
                + ". Put the Hugging Face folder at models/\(id.replacingOccurrences(of: "/", with: "--")) "
                + "or download it into the Hugging Face cache")
    }

    /// A snapshot folder's name as the hub writes it: a commit hash (hex digits, at most 64).
    static func isCommitName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy(\.isHexDigit)
    }

    /// The snapshot refs/main points to, else the most recently modified one.
    static func snapshot(_ repo: String) throws -> String? {
        let fm = FileManager.default
        if let ref = try? String(contentsOfFile: repo + "/refs/main", encoding: .utf8) {
            // A commit hash names a snapshot; anything with a slash or dots could lead out of the cache.
            let name = ref.trimmingCharacters(in: .whitespacesAndNewlines)
            let path = repo + "/snapshots/" + name
            guard isCommitName(name) else {
                throw CanonEditError("\(repo)/refs/main: \(name.debugDescription) is not a commit hash")
            }
            if fm.fileExists(atPath: path) { return path }
        }
        let names = (try? fm.contentsOfDirectory(atPath: repo + "/snapshots")) ?? []
        func modified(_ n: String) -> Date {
            ((try? fm.attributesOfItem(atPath: repo + "/snapshots/" + n))?[.modificationDate] as? Date) ?? .distantPast
        }
        return names.max { modified($0) < modified($1) }.map { repo + "/snapshots/" + $0 }
    }
}
