import Foundation

/// Whole-file writes that never leave a half-written file: write a sibling temporary file,
/// flush it, then rename over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil) else {
            throw CanonEditError("\(path): cannot create \(tmp) (\(String(cString: strerror(errno))))")
        }
        guard let h = FileHandle(forWritingAtPath: tmp) else { throw CanonEditError("\(path): cannot open \(tmp)") }
        do {
            try h.write(contentsOf: data)
            try h.synchronize()
            try h.close()
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
