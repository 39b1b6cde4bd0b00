import Foundation
import TestSupport
import XCTest

@testable import Support

/// Output folders that cannot be made are errors naming the folder and the reason.
final class FolderTests: XCTestCase {
    func testFoldersThatCannotBeMadeAreNamed() throws {
        let dir = temporaryFolder(self)
        let file = dir + "/plain"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        XCTAssertThrowsError(try Folder.make(file + "/runs")) {
            XCTAssertTrue("\($0)".contains(file + "/runs: cannot make this folder: \(file) is a file"), "\($0)")
        }
        XCTAssertThrowsError(try Folder.make(file)) {
            XCTAssertTrue("\($0)".contains("\(file): cannot make this folder: \(file) is a file"), "\($0)")
        }
        try Folder.make(dir + "/a/b/c")
        try Folder.make(dir + "/a/b/c")  // again: already there
        var isFolder: ObjCBool = false
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: dir + "/a/b/c", isDirectory: &isFolder) && isFolder.boolValue)
    }
}
