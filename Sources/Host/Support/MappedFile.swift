import Foundation

/// A read-only memory-mapped file. Every read is bounds-checked, so a truncated or lying
/// file gives an error naming the file and what was being read, never a crash.
public final class MappedFile {
    public let path: String
    public let size: Int
    public let base: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CanonEditError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CanonEditError("\(path): cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CanonEditError("\(path): not a regular file") }
        size = Int(st.st_size)
        if size == 0 {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CanonEditError("\(path): mmap failed (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if size == 0 {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        }
    }

    /// `count` bytes at `offset`, or an error naming `what` when they run past the end.
    public func bytes(at offset: Int, count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw CanonEditError(
                "\(path): \(what()) needs bytes \(offset)..<\(offset &+ count) but the file has \(size) bytes "
                    + "(truncated or corrupt)"
            )
        }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }
}

extension MappedFile {
    /// A whole file's bytes, or nil when it cannot be opened. (Foundation's
    /// FileManager.contents(atPath:) leaks a buffer on empty files, which the fuzzers flag.)
    public static func contents(_ path: String) -> Data? {
        guard let f = try? MappedFile(path: path) else { return nil }
        return f.size == 0 ? Data() : Data(bytes: f.base, count: f.size)
    }
}
