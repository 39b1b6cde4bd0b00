import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// A model's digest is the SHA-256 of its bytes as stored, checked against coreutils' sha256sum.
final class ModelDigestTests: XCTestCase {
    func sha256sum(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(text.prefix(64))
    }

    func testAGGUFsDigestIsSha256sumOfTheFile() throws {
        let path = try ModelStore.resolve("smollm2")
        XCTAssertEqual(try ModelDigest.sha256(path), try sha256sum(path))
    }

    func testAFoldersDigestChangesWithAnyWeightByte() throws {
        let dir = temporaryFolder(self)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let before = try ModelDigest.sha256(dir)
        XCTAssertEqual(before, try ModelDigest.sha256(dir))
        try Data([1, 2, 4]).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        XCTAssertNotEqual(before, try ModelDigest.sha256(dir))
    }
}
