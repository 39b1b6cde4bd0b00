import Foundation

/// Folders canonedit writes into, made with their parents. A folder that cannot be made (a
/// read-only parent, a file in the way) is an error naming it and the reason, instead of
/// Foundation's raw NSCocoaErrorDomain code.
public enum Folder {
    public static func make(_ path: String) throws { try make(path, for: path) }

    static func make(_ path: String, for target: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw CanonEditError("\(target): cannot make this folder: \(path) is a file")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try make(parent, for: target) }
        // mkdir itself, so that the error is the system's own reason.
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw CanonEditError("\(target): cannot make this folder (\(path): \(String(cString: strerror(errno))))")
        }
    }
}
