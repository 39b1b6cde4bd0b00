import Foundation

/// Whole-file writes that never leave a half-written file: write a sibling temporary file,
/// flush it, then rename over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { try $0.write(contentsOf: data) }
    }

    /// Streams the file's contents through `body`, then flushes and renames it into place.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void) throws {
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil) else {
            throw CanonEditError("\(path): cannot create \(tmp) (\(String(cString: strerror(errno))))")
        }
        guard let h = FileHandle(forWritingAtPath: tmp) else { throw CanonEditError("\(path): cannot open \(tmp)") }
        do {
            try body(h)
            try h.synchronize()
            try h.close()
        } catch let e as CanonEditError {
            try? h.close()
            try? FileManager.default.removeItem(atPath: tmp)
            throw e
        } catch {
            try? h.close()
            try? FileManager.default.removeItem(atPath: tmp)
            throw CanonEditError(
                "\(path): write failed (\(posixReason(error))); the previous file, if any, is unchanged")
        }
        guard rename(tmp, path) == 0 else {
            let e = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw CanonEditError("\(path): rename failed (\(e))")
        }
    }
}

/// The operating system's words for a Foundation I/O error ("No space left on device").
public func posixReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return ns.localizedDescription
}
