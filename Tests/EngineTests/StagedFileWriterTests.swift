import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Bytes written through the staging buffer land exactly where they were sent, whether the
/// file takes direct writes (an ext4 test folder) or not (tmpfs, an unaligned start).
final class StagedFileWriterTests: XCTestCase {
    var rng = SeededRandom(seed: 11)

    func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    /// Pieces of awkward sizes through a buffer of three pages: the file is their concatenation,
    /// its length exact (the padded last block cut back).
    func streamed(folder: String, start: Int) throws -> (direct: Bool, ok: Bool) {
        let path = folder + "/stream.bin"
        let prefix = randomBytes(start)
        FileManager.default.createFile(atPath: path, contents: Data(prefix))
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        let out = StagedFileWriter(fd: fd, path: path, offset: start, capacity: 3 * StagedFileWriter.alignment)
        let wasDirect = out.direct
        var expected = prefix
        for size in [1, 4095, 4096, 4097, 12_288, 20_000, 7, 0, 9000] {
            let piece = randomBytes(size)
            try piece.withUnsafeBytes { try out.write($0) }
            expected += piece
        }
        // Values filled in place, two bytes each, in pieces the buffer decides.
        try out.write(count: 10_001, size: 2) { dst, n, first in
            for i in 0..<n {
                dst.storeBytes(of: UInt16(truncatingIfNeeded: first + i), toByteOffset: 2 * i, as: UInt16.self)
            }
        }
        for i in 0..<10_001 { withUnsafeBytes(of: UInt16(truncatingIfNeeded: i).littleEndian) { expected += $0 } }
        // Whole blocks only went out while direct: it never had to fall back to the page cache.
        XCTAssertEqual(out.direct, wasDirect)
        try out.finish(endsFile: true)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return (wasDirect, written == expected)
    }

    func testBytesLandInOrderWithTheExactLength() throws {
        let dir = temporaryFolder(self)
        XCTAssertTrue(try streamed(folder: dir, start: 0).ok)
        let unaligned = try streamed(folder: dir, start: 13)
        XCTAssertTrue(unaligned.ok)
        XCTAssertFalse(unaligned.direct, "an unaligned start cannot be written direct")
        // A page-aligned start after existing bytes keeps them.
        XCTAssertTrue(try streamed(folder: dir, start: 2 * StagedFileWriter.alignment).ok)
        #if os(Linux)
        // tmpfs (before Linux 6.6) refuses O_DIRECT: the writer falls back to the page cache.
        if FileManager.default.fileExists(atPath: "/dev/shm") {
            let shm = "/dev/shm/canonedit-staged-\(getpid())"
            try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: shm) }
            XCTAssertTrue(try streamed(folder: shm, start: 0).ok)
        }
        #endif
    }

    /// A header written at the start of a longer file leaves the bytes after it alone, even
    /// when its length is not a whole number of pages.
    func testAWriteThatDoesNotEndTheFileKeepsWhatFollows() throws {
        let dir = temporaryFolder(self)
        let path = dir + "/h.bin"
        for headLength in [StagedFileWriter.alignment, 1000] {
            let body = randomBytes(3 * StagedFileWriter.alignment + 100)
            FileManager.default.createFile(atPath: path, contents: Data(body))
            let fd = open(path, O_WRONLY)
            defer { close(fd) }
            let head = randomBytes(headLength)
            let out = StagedFileWriter(fd: fd, path: path, offset: 0)
            try head.withUnsafeBytes { try out.write($0) }
            try out.finish(endsFile: false)
            let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertTrue(written == head + body.dropFirst(headLength), "header of \(headLength) bytes")
        }
    }
}
