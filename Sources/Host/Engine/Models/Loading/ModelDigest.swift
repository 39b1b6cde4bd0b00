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

    static func add(_ file: String, to digest: inout SHA256Digest) throws {
        let m = try MappedFile(path: file)
        if m.size > 0 { digest.add(UnsafeRawBufferPointer(start: m.base, count: m.size)) }
    }
}
