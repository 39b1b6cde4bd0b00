import Foundation
import TestSupport
import XCTest

@testable import Support

/// `canonedit stats`: statistics computed from the command line carry their provenance, are the
/// ones a MEMIT run then uses (nothing recomputed), and a corrupted one fails verification.
final class StatsCommandTests: XCTestCase {
    struct Entry: Decodable {
        let path: String
        let module: String?
        let model_sha256: String?
        let corpus_sha256: String?
        let tokens: Int?
        let intact: Bool?
    }

    func entries(_ json: String) throws -> [Entry] { try JSONDecoder().decode([Entry].self, from: Data(json.utf8)) }

    func testComputeListVerifyAndReuseByARun() throws {
        let t = try TinyExperiment(self)
        let corpus = t.dir + "/kl.jsonl"
        let computed = try runCanonedit(
            ["stats", "compute", "--model", t.dir + "/model", "--corpus", corpus, "--tokens", "40", "--layers", "0-1"],
            in: t.dir)
        XCTAssertEqual(computed.status, 0, computed.err)
        let made = try entries(computed.out)
        XCTAssertEqual(made.map { $0.module ?? "" }, ["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"])
        let corpusSHA = SHA256Digest.hex(of: try Data(contentsOf: URL(fileURLWithPath: corpus)))
        for e in made {
            XCTAssertEqual(e.intact, true)
            XCTAssertEqual(e.corpus_sha256, corpusSHA)
            XCTAssertEqual(e.tokens, 40)
            XCTAssertEqual(e.model_sha256?.count, 64)
        }
        // A MEMIT run on the same model, corpus and token count reads them: nothing is recomputed.
        let cfg = t.config(
            method: "memit", lr: 0, epochs: 1, name: "memit",
            training: """
                  method:
                    layers: "1"
                    mom2_corpus: \(corpus)
                    mom2_tokens: 40
                    mom2_ridge: 0.5
                    context_templates: 0
                    v_num_grad_steps: 3
                """)
        func modified(_ path: String) throws -> Date {
            try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
        }
        let before = try modified(made[1].path)
        Thread.sleep(forTimeInterval: 0.05)
        let run = try runCanonedit(["run", cfg], in: t.dir)
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertFalse(run.err.contains("recomputing"), run.err)
        XCTAssertEqual(try modified(made[1].path), before, "the run read the cached statistics, not wrote them")
        let listed = try runCanonedit(["stats", "list"], in: t.dir)
        XCTAssertEqual(try entries(listed.out).map(\.path), made.map(\.path))
        XCTAssertTrue(try entries(listed.out).allSatisfy { $0.intact == nil }, "list does not read the values")
        // A flipped byte in the values fails verification, naming the file.
        XCTAssertEqual(try runCanonedit(["stats", "verify"], in: t.dir).status, 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: made[1].path))
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: made[1].path))
        let verified = try runCanonedit(["stats", "verify"], in: t.dir)
        XCTAssertEqual(verified.status, 1)
        XCTAssertTrue(verified.err.contains(made[1].path) && verified.err.contains("checksum"), verified.err)
        XCTAssertEqual(try entries(verified.out).map(\.intact), [true, false])
        // Bad arguments are named.
        let bad = try runCanonedit(
            ["stats", "compute", "--model", t.dir + "/model", "--corpus", corpus, "--layers", "0-5"], in: t.dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--layers"), bad.err)
    }
}
