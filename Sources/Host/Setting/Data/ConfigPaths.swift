import Foundation
import Support

/// Where the relative paths of one config lead. With a root (`--root DIR`, the authors' layout,
/// whose configs name paths from their repository's top), every relative path, input or output,
/// is under the root. Without one, an input is looked for in the config file's folder, then the
/// working folder, then the canonedit checkout (the built-in data), and the first that holds it
/// wins; outputs are under the working folder.
public struct ConfigPaths: Sendable {
    public let config: String
    public let root: String?

    public init(config: String, root: String? = nil) { (self.config, self.root) = (config, root) }

    /// The folders an input is looked for in, in order.
    public var searchFolders: [String] {
        if let root { return [root] }
        let beside = (config as NSString).deletingLastPathComponent
        return [beside.isEmpty ? "." : beside, "."] + [HostPaths.checkout].compactMap { $0 }
    }

    /// The input file a config's `path` names: the first folder that holds it, else the path
    /// under the first folder (reading it then fails, and `missing` says where it looked).
    public func input(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let candidates = searchFolders.map { Self.join($0, path) }
        return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
    }

    /// The output file a config's `path` names.
    public func output(_ path: String) -> String {
        path.hasPrefix("/") ? path : root.map { Self.join($0, path) } ?? path
    }

    /// The error for an input `field` whose file is in none of the folders.
    public func missing(_ field: String, _ path: String) -> CanonEditError {
        let folders =
            path.hasPrefix("/") ? "" : " (looked in " + searchFolders.map(Self.describe).joined(separator: ", ") + ")"
        return CanonEditError("\(config): \(field): \(path): no such file\(folders)")
    }

    static func join(_ folder: String, _ path: String) -> String {
        folder == "." ? path : (folder as NSString).appendingPathComponent(path)
    }

    static func describe(_ folder: String) -> String {
        folder == "." ? "the working folder \(FileManager.default.currentDirectoryPath)" : folder
    }
}
