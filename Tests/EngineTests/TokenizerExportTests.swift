import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// The tokenizer files of a Hugging Face export, checked against what transformers read from
/// them. Fixtures/smollm2/hf-export-tokenizer.json was written by
/// `scripts/tokenizer_agreement.py EXPORT --canonedit BIN --record FILE` after
/// `canonedit export --format hf`: the SHA-256 of the tokenizer.json AutoTokenizer loaded and the
/// ids it gave on hard strings.
final class TokenizerExportTests: XCTestCase {
    func testSmolLM2ExportWritesTheTokenizerTransformersLoadedAndTheSpecialTokens() throws {
        let lm = try Fixtures.smollm2()
        let fixture = try Fixtures.json("smollm2/hf-export-tokenizer.json") as! [String: Any]
        let dir = temporaryFolder(self)
        try TokenizerExport(gguf: try GGUFFile(path: lm.path)).write(lm.tokenizer, contextLength: 8192, to: dir)

        // The file is byte for byte the one transformers loaded: a change to the writer must be
        // checked with transformers again (the script above) and the fixture re-recorded.
        let written = try Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))
        XCTAssertEqual(SHA256Digest.hex(of: written), fixture["tokenizer_json_sha256"] as? String)

        let strings = fixture["strings"] as! [String], ids = fixture["transformers_ids"] as! [[Int]]
        for (s, expected) in zip(strings, ids) {
            XCTAssertEqual(lm.tokenizer.encode(s).map(Int.init), expected, "ids of \(s.debugDescription)")
        }

        let config =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer_config.json"))) as! [String: Any]
        XCTAssertEqual(config["bos_token"] as? String, "<|im_start|>")
        XCTAssertEqual(config["eos_token"] as? String, "<|im_end|>")
        XCTAssertTrue((config["chat_template"] as? String)?.contains("<|im_start|>") == true, "the GGUF's template")
        let generation =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: dir + "/generation_config.json"))) as! [String: Any]
        XCTAssertEqual(generation["eos_token_id"] as? Int, 2, "generate stops at <|im_end|>")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/special_tokens_map.json"))
    }

    func testEveryAddedTokenHasTheFieldsTokenizersRequires() throws {
        let lm = try Fixtures.smollm2()
        let root = try JSONSerialization.jsonObject(with: try lm.tokenizer.tokenizerJSON()) as! [String: Any]
        let added = root["added_tokens"] as! [[String: Any]]
        XCTAssertFalse(added.isEmpty)
        for t in added {
            XCTAssertEqual(Set(t.keys), ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"])
        }
        let model = root["model"] as! [String: Any]
        for key in [
            "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", "byte_fallback",
        ] {
            XCTAssertNotNil(model[key], "model.\(key)")
        }
    }

    /// The zoo's Llama 3.1, Qwen 2 and Gemma 3 exported to Hugging Face folders: each carries the
    /// tokenizer.json transformers loaded from such an export (Fixtures/zoo/hf-export-tokenizer.json,
    /// recorded by scripts/tokenizer_agreement.py from the Gemma 3 export) and a tokenizer_config
    /// that makes AutoTokenizer read it as it is; canonedit's ids equal transformers' on its strings.
    func testZooExportsCarryTheTokenizerTransformersLoaded() throws {
        let fixture = try Fixtures.json("zoo/hf-export-tokenizer.json") as! [String: Any]
        for arch in ["llama31", "qwen2", "gemma3"] {
            let lm = try ModelStore.load(Fixtures.folder + "/zoo/\(arch)")
            let dir = temporaryFolder(self) + "/export"
            try HuggingFaceExport.write(lm, to: dir)
            let written = try Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))
            XCTAssertEqual(SHA256Digest.hex(of: written), fixture["tokenizer_json_sha256"] as? String, arch)
            let config = try String(contentsOfFile: dir + "/tokenizer_config.json", encoding: .utf8)
            XCTAssertTrue(config.contains("PreTrainedTokenizerFast"), "\(arch): \(config)")
            let strings = fixture["strings"] as! [String], ids = fixture["transformers_ids"] as! [[Int]]
            for (s, expected) in zip(strings, ids) {
                XCTAssertEqual(lm.tokenizer.encode(s).map(Int.init), expected, "\(arch): \(s.debugDescription)")
            }
        }
    }
}
