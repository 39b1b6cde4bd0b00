import Foundation
import TestSupport
import XCTest

@testable import Engine

/// tokenizer.json pipelines in the shapes Llama 3, Qwen 2, Mistral, Llama 2, Gemma and GPT-2
/// ship (small vocabularies trained by the `tokenizers` library, Fixtures/tokenizers): the ids
/// that library gives for hard strings, exactly, and its decoding.
final class TokenizerFixtureTests: XCTestCase {
    static let names = [
        "gpt2", "llama3", "qwen2", "mistral", "llama2_legacy", "gemma", "digits_punctuation", "metaspace_split",
        "t5_unigram", "unigram_byte_fallback",
    ]

    func testEveryPipelineGivesTheLibrarysIds() throws {
        for name in Self.names {
            let tok = try Tokenizer(tokenizerJSON: Fixtures.folder + "/tokenizers/\(name).tokenizer.json")
            let cases = try Fixtures.json("tokenizers/\(name).expected.json") as! [[String: Any]]
            XCTAssertEqual(cases.count, 14, name)
            XCTAssertEqual(tok.pipeline != nil, name != "gpt2", "\(name): GPT-2's form keeps the hand scanner")
            for c in cases {
                let text = c["text"] as! String, ids = (c["ids"] as! [Int]).map(Int32.init)
                XCTAssertEqual(tok.encode(text), ids, "\(name): ids of \(text.debugDescription)")
                XCTAssertEqual(tok.decode(ids), c["decoded"] as? String, "\(name): decoding \(text.debugDescription)")
            }
        }
    }

    /// A TemplateProcessing post-processor's leading special token (Llama 3's <|begin_of_text|>)
    /// starts every text, as transformers adds it.
    func testThePostProcessorsLeadingTokenStartsEveryText() throws {
        let dir = temporaryFolder(self)
        var root =
            try Fixtures.json("tokenizers/llama3.tokenizer.json") as! [String: Any]
        root["post_processor"] = [
            "type": "Sequence",
            "processors": [
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false],
                [
                    "type": "TemplateProcessing",
                    "single": [
                        ["SpecialToken": ["id": "<|special|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                    ],
                    "pair": [], "special_tokens": [:],
                ],
            ],
        ]
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir + "/t.json"))
        let tok = try Tokenizer(tokenizerJSON: dir + "/t.json")
        let special = try XCTUnwrap(tok.id(of: "<|special|>"))
        XCTAssertEqual(tok.bos, special)
        XCTAssertEqual(tok.startOfText("Port Louis"), [special] + tok.encode("Port Louis"))
        XCTAssertNil(try Tokenizer(tokenizerJSON: Fixtures.folder + "/tokenizers/llama3.tokenizer.json").bos)
    }

    /// A GGUF vocabulary whose tokenizer.ggml.pre is llama-bpe (Llama 3) runs Llama 3's split and
    /// unmerged whole tokens: the Llama-3-shaped fixture's vocabulary written as GGUF metadata
    /// gives the same ids as its tokenizer.json.
    func testAGGUFLlama3VocabularyTokenizesAsItsTokenizerJSON() throws {
        let json = try Tokenizer(tokenizerJSON: Fixtures.folder + "/tokenizers/llama3.tokenizer.json")
        var m = GGUFMetadata()
        m.set("general.architecture", .string("llama"))
        m.set("tokenizer.ggml.model", .string("gpt2"))
        m.set("tokenizer.ggml.pre", .string("llama-bpe"))
        m.set("tokenizer.ggml.tokens", .strings(json.vocab))
        let special = Set(json.specials.values)
        m.set("tokenizer.ggml.token_type", .i32s((0..<json.count).map { special.contains(Int32($0)) ? 3 : 1 }))
        m.set("tokenizer.ggml.merges", .strings(json.mergeList.map { $0.0 + " " + $0.1 }))
        let path = temporaryFolder(self) + "/vocab.gguf"
        try GGUFWriter.write([], metadata: m, type: .f32, to: path)
        let gguf = try Tokenizer(gguf: try GGUFFile(path: path))
        for c in try Fixtures.json("tokenizers/llama3.expected.json") as! [[String: Any]] {
            let text = c["text"] as! String
            XCTAssertEqual(gguf.encode(text), (c["ids"] as! [Int]).map(Int32.init), text.debugDescription)
        }
        m.set("tokenizer.ggml.pre", .string("tekken"))
        try GGUFWriter.write([], metadata: m, type: .f32, to: path)
        XCTAssertThrowsError(try Tokenizer(gguf: try GGUFFile(path: path))) {
            XCTAssertTrue("\($0)".contains("\"tekken\" is a pre-tokenizer canonedit does not know"), "\($0)")
        }
    }

    /// A Llama-2-style SentencePiece GGUF (scores, add_space_prefix, byte fallback) gives the ids
    /// transformers reads from the same file.
    func testALlama2SentencePieceGGUFTokenizesAsTransformersReadsIt() throws {
        let tok = try Tokenizer(gguf: try GGUFFile(path: Fixtures.folder + "/tokenizers/llama2_spm.gguf"))
        XCTAssertNotNil(tok.bos)
        for c in try Fixtures.json("tokenizers/llama2_spm.expected.json") as! [[String: Any]] {
            let text = c["text"] as! String, ids = (c["ids"] as! [Int]).map(Int32.init)
            XCTAssertEqual(tok.encode(text), ids, text.debugDescription)
            XCTAssertEqual(tok.decode(ids), c["decoded"] as? String, "decoding \(text.debugDescription)")
        }
    }

    /// A feature canonedit does not implement is refused by name, never skipped.
    func testUnsupportedStepsAreRefusedByName() throws {
        let dir = temporaryFolder(self)
        let base =
            try Fixtures.json("tokenizers/llama3.tokenizer.json") as! [String: Any]
        let cases: [(String, Any, String)] = [
            ("pre_tokenizer", ["type": "BertPreTokenizer"], "pre_tokenizer BertPreTokenizer is not supported"),
            ("normalizer", ["type": "Precompiled", "precompiled_charsmap": "AA=="], "normalizer Precompiled"),
            ("decoder", ["type": "WordPiece"], "decoder WordPiece is not supported"),
        ]
        for (key, value, message) in cases {
            var root = base
            root[key] = value
            let path = dir + "/\(key).json"
            try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: path)) {
                XCTAssertTrue("\($0)".contains(message) && "\($0)".contains(path), "\($0)")
            }
        }
        var wordPiece = base
        wordPiece["model"] = ["type": "WordPiece", "vocab": ["a": 0]]
        try JSONSerialization.data(withJSONObject: wordPiece).write(to: URL(fileURLWithPath: dir + "/w.json"))
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: dir + "/w.json")) {
            XCTAssertTrue("\($0)".contains("model type WordPiece is not supported"), "\($0)")
        }
    }

    /// transformers writes `"continuing_subword_prefix": ""` and `"end_of_word_suffix": ""` when
    /// it saves a tokenizer converted from GGUF: an empty one means none; a real one is refused.
    func testAnEmptySubwordPrefixOrSuffixMeansNone() throws {
        let dir = temporaryFolder(self)
        var root =
            try Fixtures.json("tokenizers/gpt2.tokenizer.json") as! [String: Any]
        var model = root["model"] as! [String: Any]
        (model["continuing_subword_prefix"], model["end_of_word_suffix"]) = ("", "")
        root["model"] = model
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir + "/empty.json"))
        let tok = try Tokenizer(tokenizerJSON: dir + "/empty.json")
        for c in try Fixtures.json("tokenizers/gpt2.expected.json") as! [[String: Any]] {
            XCTAssertEqual(tok.encode(c["text"] as! String), (c["ids"] as! [Int]).map(Int32.init))
        }
        model["continuing_subword_prefix"] = "##"
        root["model"] = model
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir + "/set.json"))
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: dir + "/set.json")) {
            XCTAssertTrue("\($0)".contains("model.continuing_subword_prefix is set"), "\($0)")
        }
    }

    /// A Metaspace replacement that is not one character, Strip counts below 0 or past 1024 (a
    /// negative one trapped, a huge one spun in generate), a vocabulary id of Int.max and a Unigram
    /// unk_id past the vocabulary (both trapped) and a regex that repeats a repeating group are
    /// refused naming the file.
    func testBadMetaspaceAndStripValuesAreRefused() throws {
        let dir = temporaryFolder(self)
        // A change to one object of the file's root.
        func inside(_ key: String, _ change: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { root in
                var object = root[key] as! [String: Any]
                change(&object)
                root[key] = object
            }
        }
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            (
                "metaspace_split",
                inside("pre_tokenizer") { pre in
                    if pre["type"] as? String == "Metaspace" {
                        pre["replacement"] = ""
                    } else {
                        var steps = pre["pretokenizers"] as! [[String: Any]]
                        for i in steps.indices where steps[i]["type"] as? String == "Metaspace" {
                            steps[i]["replacement"] = ""
                        }
                        pre["pretokenizers"] = steps
                    }
                }, "Metaspace replacement \"\" must be one character"
            ),
            (
                "llama2_legacy",
                inside("decoder") { dec in
                    var steps = dec["decoders"] as! [[String: Any]]
                    for i in steps.indices where steps[i]["type"] as? String == "Strip" { steps[i]["start"] = -1 }
                    dec["decoders"] = steps
                }, "decoder Strip start -1 / stop 0 must be 0…1024"
            ),
            (
                "gpt2",
                inside("model") { model in
                    var vocab = model["vocab"] as! [String: Any]
                    vocab["huge"] = Int.max  // its id + 1 overflowed
                    model["vocab"] = vocab
                }, "vocabulary ids reach \(Int.max), over the limit"
            ),
            (
                "t5_unigram",
                inside("model") { $0["unk_id"] = 1 << 40 },  // trapped converting to Int32
                "model.unk_id \(1 << 40) is outside the vocabulary"
            ),
            (
                // (a+)+$ took over 20 s on 43 bytes: refused when the file is read
                "metaspace_split",
                inside("normalizer") { norm in
                    var steps = norm["normalizers"] as! [[String: Any]]
                    for i in steps.indices where steps[i]["type"] as? String == "Replace" {
                        steps[i]["pattern"] = ["Regex": "(a+)+$"]
                    }
                    norm["normalizers"] = steps
                }, "repeats a group that repeats ((a+)+)"
            ),
        ]
        for (i, (name, change, message)) in cases.enumerated() {
            var root =
                try Fixtures.json("tokenizers/\(name).tokenizer.json") as! [String: Any]
            change(&root)
            let path = dir + "/\(i)-\(name).json"
            try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: path)) {
                XCTAssertTrue("\($0)".contains(message) && "\($0)".contains(path), "\($0)")
            }
        }
    }
}
