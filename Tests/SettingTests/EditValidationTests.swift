import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Crafted edit files are refused with a message, never a crash: every metadata field is
/// checked against the model first, and an edit may change only what its method changes
/// unless trusted.
final class EditValidationTests: XCTestCase {
    /// A sense edit of a tiny Backpack, rewritten with `senses` as its pairs (checksum fixed up).
    func craftedSenseEdit(_ senses: String) throws -> String {
        let bp = try TinyModels.backpack()
        let s = EditSession(model: bp, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 0)
        bp.senseDeltas.select([(65, 1)], C: bp.C)
        s.train(bp.senseDeltas.delta!)
        let path = temporaryFolder(self) + "/e.safetensors"
        try EditArtifact.save(s, method: "senses", basePath: "tiny", ball: nil, epoch: nil, to: path)
        let f = try SafetensorsFile(path: path)
        var info = try EditArtifact.read(path).0
        let json = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
            .replacingOccurrences(of: #""senses":[[65,1]]"#, with: #""senses":\#(senses)"#)
        info = try JSONDecoder().decode(EditArtifact.Info.self, from: Data(json.utf8))
        let t = Tensor(f.shape(of: "backpack.sense_deltas")!)
        try f.load("backpack.sense_deltas", into: t)
        let items: [SafetensorsWriter.Item] = [.tensor("backpack.sense_deltas", t)]
        try SafetensorsWriter.write(
            items: items, to: path,
            metadata: ["canonedit_edit": json, "sha256": EditArtifact.digest(json, items, dtype: .f32)])
        return path
    }

    func testCraftedSensePairsAreRefused() throws {
        for (pairs, fragment) in [
            ("[[]]", "sense pair [] is not"), ("[[4294967296,0]]", "sense pair [4294967296, 0]"),
            ("[[65,9]]", "sense pair [65, 9]"), ("[[65,1],[66,1]]", "one vector of"),
        ] {
            let path = try craftedSenseEdit(pairs)
            let bp = try TinyModels.backpack()
            let s = EditSession(
                model: bp, tokenizer: TinyModels.byteTokenizer(), examples: [], lossType: .good, seed: 0)
            XCTAssertThrowsError(try EditArtifact.apply(path, to: s, force: true), pairs) {
                XCTAssertTrue("\($0)".contains(fragment), "\(pairs): \($0)")
            }
        }
    }

    func testAnEditMayChangeOnlyWhatItsMethodChangesUnlessTrusted() throws {
        let model = try TinyModels.llama(seed: 8)
        let tok = TinyModels.byteTokenizer()
        let s = EditSession(model: model, tokenizer: tok, examples: [], lossType: .good, seed: 0)
        let embed = model.parameter("model.embed_tokens.weight")!
        s.train(embed)
        embed.value[0] += 1
        let path = temporaryFolder(self) + "/sneaky.safetensors"
        try EditArtifact.save(s, method: "lora", basePath: "tiny", ball: nil, epoch: nil, to: path)
        let fresh = try TinyModels.llama(seed: 8)
        let s2 = EditSession(model: fresh, tokenizer: tok, examples: [], lossType: .good, seed: 0)
        XCTAssertThrowsError(try EditArtifact.apply(path, to: s2)) {
            XCTAssertTrue("\($0)".contains("an edit of method lora that changes model.embed_tokens.weight"), "\($0)")
        }
        XCTAssertEqual(fresh.parameter(embed.name)!.value[0], s.original(of: embed)![0], "nothing was applied")
        _ = try EditArtifact.apply(path, to: s2, trust: true)
        XCTAssertEqual(fresh.parameter(embed.name)!.value[0], embed.value[0])
    }

    func testAChangedByteFailsTheSHA256() throws {
        let path = try craftedSenseEdit("[[65,1]]")
        var d = try Data(contentsOf: URL(fileURLWithPath: path))
        d[d.count - 1] ^= 0x01
        try d.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try EditArtifact.read(path)) { XCTAssertTrue("\($0)".contains("checksum mismatch")) }
    }
}
