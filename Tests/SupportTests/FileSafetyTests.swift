import Foundation
import XCTest

@testable import Support

/// Temporary files are created exclusively under unpredictable names, stale ones from a killed
/// process are removed by the next write of the same file, and an output lock excludes a second
/// writer while its holder lives.
final class FileSafetyTests: XCTestCase {
    func folder() throws -> String {
        let dir = NSTemporaryDirectory() + "canonedit-files-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testStaleTemporariesOfADeadProcessAreRemovedByTheNextWrite() throws {
        let dir = try folder()
        // A process id that is not running: a child that has exited.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let stale = dir + "/out.json.tmp-\(p.processIdentifier)-1f2e3d"
        let other = dir + "/else.json.tmp-\(p.processIdentifier)-1f2e3d"
        FileManager.default.createFile(atPath: stale, contents: Data("half".utf8))
        FileManager.default.createFile(atPath: other, contents: Data("half".utf8))
        try AtomicFile.write(Data("whole".utf8), to: dir + "/out.json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: other), "only the same output's leftovers go")
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.json", encoding: .utf8), "whole")
    }

    func testTemporaryNamesAreUnpredictableAndCreatedExclusively() throws {
        let dir = try folder()
        var names = Set<String>()
        for _ in 0..<3 {
            try AtomicFile.write(to: dir + "/x") { _ in
                let tmp = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("x.tmp-") }
                XCTAssertEqual(tmp.count, 1)
                names.formUnion(tmp)
            }
        }
        XCTAssertEqual(names.count, 3, "\(names)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["x"])
    }

    func testAnOutputLockExcludesASecondWriterUntilReleased() throws {
        let dir = try folder()
        var first: OutputLock? = try OutputLock(dir + "/results.json")
        XCTAssertThrowsError(try OutputLock(dir + "/results.json")) {
            XCTAssertTrue("\($0)".contains("another canonedit process (pid \(getpid())) is writing it"), "\($0)")
        }
        XCTAssertNotNil(first)
        first = nil
        XCTAssertNoThrow(try OutputLock(dir + "/results.json"))
    }
}
