import Foundation

/// An exclusive lock on an output (flock on `<path>.lock`), held while this object lives, so
/// two processes never write the same results. The lock file holds the owner's process id and
/// is removed when the lock is released; a lock taken on a file that was removed meanwhile is
/// taken again, and a symlink is never followed.
public final class OutputLock {
    let fd: Int32
    public let path: String
    let lockPath: String

    public init(_ path: String) throws {
        self.path = path
        lockPath = path + ".lock"
        fd = try Self.take(lockPath, path: path)
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pwrite(fd, pid, pid.count, 0)
    }

    /// An open, locked descriptor of the file now at `lockPath`.
    static func take(_ lockPath: String, path: String) throws -> Int32 {
        for _ in 0..<8 {
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else {
                throw CanonEditError("\(lockPath): cannot open the lock file (\(String(cString: strerror(errno))))")
            }
            try lock(fd, path: path)
            // The holder before us may have removed the file between our open and our flock.
            var held = stat(), now = stat()
            if fstat(fd, &held) == 0, lstat(lockPath, &now) == 0, held.st_ino == now.st_ino, held.st_dev == now.st_dev {
                return fd
            }
            close(fd)
        }
        throw CanonEditError("\(lockPath): the lock file keeps changing; is another process removing it?")
    }

    static func lock(_ fd: Int32, path: String) throws {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, buf.count, 0)
            close(fd)
            let owner = String(decoding: buf.prefix(max(n, 0)), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            throw CanonEditError(
                "\(path): another canonedit process (pid \(owner.isEmpty ? "?" : owner)) is writing it; wait for it, "
                    + "or give this run its own logfile and resultsfile")
        }
    }

    deinit {
        unlink(lockPath)  // before unlocking: a process that opened it meanwhile sees it gone and retries
        flock(fd, LOCK_UN)
        close(fd)
    }
}
