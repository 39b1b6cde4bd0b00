import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// An edit names the SHA-256 of the weights it was made on; applied to other weights of the same
/// shapes (which the identity's sample does not see) it is refused with both digests, unless
/// --trust-edit.
final class EditWeightsBindingTests: XCTestCase {
    func canonedit(_ args: [String]) throws -> (status: Int32, err: String) {
        let r = try runCanonedit(args + ["--threads", "1"])
        return (r.status, r.err)
    }

    func testAnEditOnOtherWeightsIsRefusedNamingBothDigests() throws {
        let t = try TinyExperiment(self)
        setenv("CANONEDIT_CACHE", t.dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        let run = try canonedit(["run", t.config(method: "full", lr: 0.003, epochs: 1, name: "bind")])
        XCTAssertEqual(run.status, 0, run.err)
        let edit = try XCTUnwrap(
            Ball.paper.map { t.dir + "/bind.edit-\($0.key).safetensors" }.first {
                FileManager.default.fileExists(atPath: $0)
            })
        let made = try ModelDigest.sha256(t.dir + "/model")
        XCTAssertEqual(try EditArtifact.read(edit).0.base_sha256, made)

        // The same model with one weight's last byte changed: same shapes, same embedding sample.
        let other = t.dir + "/other"
        try FileManager.default.copyItem(atPath: t.dir + "/model", toPath: other)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: other + "/model.safetensors"))
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: other + "/model.safetensors"))
        let args = [
            "eval", "--model", other, "--task", "country_capital", "--data", t.dir + "/eval.jsonl", "--edit", edit,
        ]
        let refused = try canonedit(args)
        XCTAssertEqual(refused.status, 1, refused.err)
        let otherDigest = try ModelDigest.sha256(other)
        XCTAssertTrue(refused.err.contains(made) && refused.err.contains(otherDigest), refused.err)
        XCTAssertEqual(try canonedit(args + ["--trust-edit"]).status, 0)
        let same = try canonedit([
            "eval", "--model", t.dir + "/model", "--task", "country_capital", "--data",
            t.dir + "/eval.jsonl", "--edit", edit,
        ])
        XCTAssertEqual(same.status, 0, same.err)
    }

    func testTheDigestIsCachedPerFileAndRecomputedWhenTheFileChanges() throws {
        let dir = temporaryFolder(self)
        setenv("CANONEDIT_CACHE", dir + "/cache", 1)
        defer { unsetenv("CANONEDIT_CACHE") }
        let f = dir + "/m.gguf"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: f))
        let first = try ModelDigest.cachedSHA256(f)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/cache/digests").count, 1)
        XCTAssertEqual(try ModelDigest.cachedSHA256(f), first)
        try Data([1, 2, 4]).write(to: URL(fileURLWithPath: f))
        XCTAssertNotEqual(try ModelDigest.cachedSHA256(f), first, "a changed file is hashed again")
    }
}
