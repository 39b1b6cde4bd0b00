import Foundation

/// Whole-file writes that never leave a half-written file: write a sibling temporary file
/// (created exclusively, under an unpredictable name), flush it, rename it over the target and
/// flush the folder. Temporary files a killed process left for the same target are removed.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { try $0.write(contentsOf: data) }
    }

    /// Streams the file's contents through `body`, then flushes and renames it into place.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void) throws {
        let file = try Pending(path)
        do { try body(file.handle) } catch {
            file.discard()
            throw error as? CanonEditError ?? file.failure(error)
        }
        try file.commit()
    }

    /// A file being written under its temporary name: `commit` flushes it and renames it into
    /// place; `discard` removes it (the previous file, if any, stays as it was).
    public final class Pending {
        public let path: String
        public let handle: FileHandle
        let tmp: String
        var open = true

        public init(_ path: String) throws {
            self.path = path
            tmp = temporaryName(for: path)
            let fd = Foundation.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw CanonEditError("\(path): cannot create \(tmp) (\(String(cString: strerror(errno))))")
            }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        }

        public func commit() throws {
            precondition(open, "\(path): committed or discarded already")
            do {
                try handle.synchronize()
                try handle.close()
            } catch {
                discard()
                throw failure(error)
            }
            open = false
            try moveIntoPlace(tmp, path)
        }

        public func discard() {
            guard open else { return }
            open = false
            try? handle.close()
            try? FileManager.default.removeItem(atPath: tmp)
        }

        /// The error a failed write reports.
        public func failure(_ error: Error) -> CanonEditError { writeFailure(path, reason: posixReason(error)) }
    }

    /// The error a failed write of `path` reports (`reason` in the operating system's words).
    public static func writeFailure(_ path: String, reason: String) -> CanonEditError {
        CanonEditError("\(path): write failed (\(reason)); the previous file, if any, is unchanged")
    }

    /// Makes `path` a second name for the file at `existing` (a hard link), replacing whatever
    /// `path` named in one step; the folder is flushed. Throws where links are not possible.
    public static func link(_ existing: String, to path: String) throws {
        let tmp = temporaryName(for: path)
        guard Foundation.link(existing, tmp) == 0 else {
            throw CanonEditError("\(path): cannot link \(existing) (\(String(cString: strerror(errno))))")
        }
        try moveIntoPlace(tmp, path)
    }

    /// Renames the finished temporary file over `path` (removing it if that fails), then
    /// flushes the folder: the rename itself is durable only once the folder is.
    static func moveIntoPlace(_ tmp: String, _ path: String) throws {
        guard rename(tmp, path) == 0 else {
            let e = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw CanonEditError("\(path): rename failed (\(e))")
        }
        let dir = open(folder(of: path), O_RDONLY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    /// A fresh, unpredictable sibling name for `path` (`<name>.tmp-<pid>-<random>`), after
    /// removing those a killed process left.
    static func temporaryName(for path: String) -> String {
        removeStaleTemporaries(of: path)
        var random = SystemRandomNumberGenerator()
        return path + ".tmp-\(getpid())-" + String(random.next() as UInt64, radix: 16)
    }

    static func folder(of path: String) -> String {
        let d = (path as NSString).deletingLastPathComponent
        return d.isEmpty ? "." : d
    }

    /// `<name>.tmp-<pid>-<random>` files beside `path` whose process is gone.
    static func removeStaleTemporaries(of path: String) {
        let dir = folder(of: path), prefix = (path as NSString).lastPathComponent + ".tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for n in names where n.hasPrefix(prefix) {
            let pid = n.dropFirst(prefix.count).split(separator: "-").first.flatMap { Int32($0) }
            guard let pid, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: dir + "/" + n)
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
