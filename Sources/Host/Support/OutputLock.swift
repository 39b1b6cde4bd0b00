import Foundation

/// An exclusive lock on an output (flock on `<path>.lock`), held while this object lives, so
/// two processes never write the same results. The lock file holds the owner's process id.
public final class OutputLock {
    let fd: Int32
    public let path: String

    public init(_ path: String) throws {
        self.path = path
        let lockPath = path + ".lock"
        fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CanonEditError("\(lockPath): cannot open the lock file (\(String(cString: strerror(errno))))")
        }
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
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pwrite(fd, pid, pid.count, 0)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
