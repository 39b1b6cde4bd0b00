import Foundation
import Support

/// The SHA-256 of a model as stored: a GGUF or safetensors file's bytes, or for a folder every
/// regular file in it by name order (each name, then its bytes). Results record it, so a number
/// names the exact weights it was measured on. Files are hashed through a read-only mapping.
public enum ModelDigest {
    public static func sha256(_ path: String) throws -> String {
        var digest = SHA256Digest()
        let (files, isFolder) = try storedFiles(path)
        for file in files {
            if isFolder { digest.add(Data(((file as NSString).lastPathComponent + "\n").utf8)) }
            let m = try MappedFile(path: file)
            if m.size > 0 { digest.add(UnsafeRawBufferPointer(start: m.base, count: m.size)) }
        }
        return digest.hex
    }

    /// The files a model is stored in: the file itself, or a folder's regular files by name.
    static func storedFiles(_ path: String) throws -> (files: [String], isFolder: Bool) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CanonEditError("\(path): no such model file or folder")
        }
        guard isDir.boolValue else { return ([path], false) }
        let files = try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 }.filter {
            var sub: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &sub) && !sub.boolValue
        }
        return (files, true)
    }

    /// `sha256(path)`, computed once per model as stored: kept in the cache folder under a key
    /// made of each file's path, size, modification time and inode, so a changed or replaced
    /// file is hashed again.
    public static func cachedSHA256(_ path: String) throws -> String {
        let key = SHA256Digest.hex(of: Data(try stamp(path).utf8))
        let file = CacheFolder.path + "/digests/\(key).sha256"
        if let data = MappedFile.contents(file), let text = String(data: data, encoding: .utf8),
            text.count == 64, text.allSatisfy(\.isHexDigit)
        {
            return text
        }
        let digest = try sha256(path)
        try? FileManager.default.createDirectory(
            atPath: CacheFolder.path + "/digests", withIntermediateDirectories: true)
        try? AtomicFile.write(Data(digest.utf8), to: file)
        return digest
    }

    /// Path, size, modification time and inode of the model's files.
    static func stamp(_ path: String) throws -> String {
        try storedFiles(URL(fileURLWithPath: path).resolvingSymlinksInPath().path).files.map { f -> String in
            var st = stat()
            guard stat(f, &st) == 0 else { throw CanonEditError("\(f): cannot stat") }
            return "\(f) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino) \(st.st_dev)"
        }.joined(separator: "\n")
    }
}
