import Foundation
import TestSupport
import XCTest

@testable import Engine

/// `--model ORG/NAME`: found in a models folder as ORG--NAME, else in the Hugging Face cache's
/// snapshot (refs/main first), else refused with every place it looked.
final class HubModelIDTests: XCTestCase {
    func testAnIDIsFoundInTheModelsFolderThenInTheHuggingFaceCache() throws {
        let dir = temporaryFolder(self), fm = FileManager.default
        let zoo = Fixtures.folder + "/zoo/llama"
        let repo = dir + "/hub/models--tiny-org--tiny-llama"
        try fm.createDirectory(atPath: repo + "/snapshots", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: repo + "/refs", withIntermediateDirectories: true)
        try fm.copyItem(atPath: zoo, toPath: repo + "/snapshots/old")
        try fm.copyItem(atPath: zoo, toPath: repo + "/snapshots/c0ffee")
        try "c0ffee\n".write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)
        let restoreCache = environment("HF_HUB_CACHE", dir + "/hub")
        defer { restoreCache() }
        XCTAssertTrue(HubModelID.looksLikeID("tiny-org/tiny-llama"))
        XCTAssertFalse(HubModelID.looksLikeID("./tiny-llama"))
        XCTAssertFalse(HubModelID.looksLikeID("a/b/c"))
        XCTAssertEqual(try ModelStore.resolve("tiny-org/tiny-llama"), repo + "/snapshots/c0ffee")
        XCTAssertEqual(try ModelStore.load("tiny-org/tiny-llama").model.architecture, "llama")
        // refs/main that leads out of the snapshots folder is refused, not followed.
        try "../../../../etc\n".write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelStore.resolve("tiny-org/tiny-llama")) {
            XCTAssertTrue("\($0)".contains("refs/main: \"../../../../etc\" is not a commit hash"), "\($0)")
        }
        try "c0ffee\n".write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)

        // A folder in CANONEDIT_MODELS comes first.
        try fm.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true)
        try fm.copyItem(atPath: zoo, toPath: dir + "/models/tiny-org--tiny-llama")
        let restoreModels = environment("CANONEDIT_MODELS", dir + "/models")
        defer { restoreModels() }
        XCTAssertEqual(try ModelStore.resolve("tiny-org/tiny-llama"), dir + "/models/tiny-org--tiny-llama")
        XCTAssertEqual(try ModelStore.resolveConfigModel("tiny-org/tiny-llama"), dir + "/models/tiny-org--tiny-llama")

        XCTAssertThrowsError(try ModelStore.resolve("nobody/nothing")) {
            let m = "\($0)"
            XCTAssertTrue(m.contains(dir + "/models/nobody--nothing"), m)
            XCTAssertTrue(m.contains(dir + "/hub/models--nobody--nothing/snapshots/*"), m)
        }
    }

    /// Sets an environment variable; the returned closure puts back what was there.
    func environment(_ name: String, _ value: String) -> () -> Void {
        let old = getenv(name).map { String(cString: $0) }
        setenv(name, value, 1)
        return { if let old { setenv(name, old, 1) } else { unsetenv(name) } }
    }
}
