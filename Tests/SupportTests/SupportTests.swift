import Foundation
import XCTest

@testable import Support

/// The shared helpers every layer builds on: hashing, seeded random numbers, mapped and
/// atomic files.
final class SupportTests: XCTestCase {
    func testFNV1aMatchesThePublishedVectors() {
        // FNV-1a 64-bit test vectors (Fowler, Noll, Vo).
        XCTAssertEqual(FNV1a.hex(of: Array("".utf8)), "cbf29ce484222325")
        XCTAssertEqual(FNV1a.hex(of: Array("a".utf8)), "af63dc4c8601ec8c")
        XCTAssertEqual(FNV1a.hex(of: Array("foobar".utf8)), "85944171f73967e8")
        var h = FNV1a()
        h.add(bytes: Array("foo".utf8))
        h.add(bytes: Array("bar".utf8))
        XCTAssertEqual(h.hex, "85944171f73967e8", "hashing in pieces equals hashing at once")
    }

    func testSeededRandomIsDeterministicAndSeedDependent() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let xs = (0..<8).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<8).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<8).map { _ in c.next() })
        var u = SeededRandom(seed: 1)
        for _ in 0..<1000 {
            let x = u.nextDouble()
            XCTAssertTrue(x >= 0 && x < 1)
        }
    }

    func testMappedFileRefusesReadsPastTheEnd() throws {
        let dir = NSTemporaryDirectory() + "canonedit-support-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.bin"
        try AtomicFile.write(Data([1, 2, 3, 4]), to: path)
        let f = try MappedFile(path: path)
        XCTAssertEqual(Array(try f.bytes(at: 1, count: 3, "middle")), [2, 3, 4])
        XCTAssertThrowsError(try f.bytes(at: 2, count: 3, "tail")) {
            XCTAssertTrue("\($0)".contains("tail needs bytes 2..<5 but the file has 4 bytes"), "\($0)")
        }
        XCTAssertThrowsError(try f.bytes(at: Int.max, count: 2, "huge"))
        XCTAssertEqual(MappedFile.contents(path), Data([1, 2, 3, 4]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.bin"], "no temporary file left")
    }
}
