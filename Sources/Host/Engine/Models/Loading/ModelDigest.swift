import Foundation
import Support

/// The SHA-256 of a model as stored: a GGUF or safetensors file's bytes, or for a folder every
/// regular file in it by name order (each name, then its bytes). Results record it, so a number
/// names the exact weights it was measured on. Files are hashed through a read-only mapping.
public enum ModelDigest {
    public static func sha256(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CanonEditError("\(path): no such model file or folder")
        }
        var digest = SHA256Digest()
        if isDir.boolValue {
            for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                var sub: ObjCBool = false
                let file = path + "/" + name
                guard FileManager.default.fileExists(atPath: file, isDirectory: &sub), !sub.boolValue else { continue }
                digest.add(Data((name + "\n").utf8))
                try add(file, to: &digest)
            }
        } else {
            try add(path, to: &digest)
        }
        return digest.hex
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
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: real, isDirectory: &isDir)
        let files =
            isDir.boolValue
            ? try FileManager.default.contentsOfDirectory(atPath: real).sorted().map { real + "/" + $0 } : [real]
        return try files.map { f -> String in
            var st = stat()
            guard stat(f, &st) == 0 else { throw CanonEditError("\(f): cannot stat") }
            return "\(f) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino) \(st.st_dev)"
        }.joined(separator: "\n")
    }

    static func add(_ file: String, to digest: inout SHA256Digest) throws {
        let m = try MappedFile(path: file)
        if m.size > 0 { digest.add(UnsafeRawBufferPointer(start: m.base, count: m.size)) }
    }
}
