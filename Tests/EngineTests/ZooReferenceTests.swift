import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Tiny random models of each architecture, saved by Hugging Face transformers
/// (Fixtures/zoo/make_fixtures.py): canonedit must load the folders and reproduce PyTorch's
/// logits, loss and every parameter's gradient.
final class ZooReferenceTests: XCTestCase {
    static let ids: [Int32] = [256, 72, 101, 108, 108, 111, 32, 119, 84, 104, 101, 32, 99, 97, 116, 256]  // (B=2, T=8)

    func check(
        _ arch: String, transposedGrads: (String) -> Bool = { _ in false }, gradName: (String) -> String = { $0 },
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let dir = Fixtures.folder + "/zoo/" + arch
        let lm = try ModelStore.load(dir)
        let model = lm.model
        let ref = try SafetensorsFile(path: dir + "/reference.safetensors")
        let (B, T) = (2, 8), V = model.vocabSize
        // logits
        let rows = LogitRows(rows: Array(0..<(B * T)))
        try model.run(tokens: Self.ids, B: B, T: T, head: rows, train: false)
        let refLogits = try ref.tensor("logits", shape: [B, T, V]).array
        XCTAssertLessThan(maxAbsDiff(rows.logits, refLogits), 1e-4, "\(arch) logits", file: file, line: line)
        // loss = mean next-token cross-entropy over both rows, and its gradient
        let n = B * (T - 1)
        let base = TokenNLL(nextTokensOf: Self.ids, B: B, T: T)
        let head = TokenNLL(rows: base.rows, targets: base.targets, weights: [Float](repeating: 1 / Float(n), count: n))
        model.setTrainable(true)
        model.zeroGrads()
        try model.run(tokens: Self.ids, B: B, T: T, head: head, train: true)
        model.setTrainable(false)
        XCTAssertEqual(
            head.loss, Double(try ref.tensor("loss", shape: [1])[0]), accuracy: 1e-5, "\(arch) loss", file: file,
            line: line)
        var compared = 0
        for p in model.parameters {
            let refName = "grad." + gradName(p.name)
            guard let shape = ref.shape(of: refName) else {
                XCTFail("\(arch): no reference gradient for \(p.name)", file: file, line: line)
                continue
            }
            var g = Tensor(shape)
            try ref.load(refName, into: g)
            if transposedGrads(p.name) { g = g.transposed() }
            let ours = p.grad!.array
            let scale = max(g.array.map(abs).max() ?? 0, 1e-6)
            XCTAssertLessThan(
                maxAbsDiff(ours, g.array), 1e-4 * scale + 1e-6, "\(arch) gradient of \(p.name)", file: file, line: line)
            compared += 1
        }
        XCTAssertEqual(compared, model.parameters.count)
    }

    func testGPT2() throws { try check("gpt2", transposedGrads: GPT2Config.isConv1D) }
    func testGPTNeoX() throws { try check("gpt_neox", gradName: { $0 == "embed_out.weight" ? "lm_head.weight" : $0 }) }
    func testGPTJ() throws { try check("gptj") }
    func testLlamaFromHuggingFace() throws { try check("llama") }
    /// Query/key norms, sandwich norms, GeGLU, √C embeddings, windows of 4 on two of three
    /// layers (the batch is 8 long, so the window cuts) with their own rotary base.
    func testGemma3() throws { try check("gemma3") }

    /// Decoding with the key/value cache, one token at a time, gives every position the logits
    /// of the whole-sequence pass, windows and Gemma's norms included.
    func testCachedDecodingEqualsTheFullPass() throws {
        for arch in ["gpt2", "gpt_neox", "gptj", "llama", "gemma3", "qwen2", "mistral", "llama31"] {
            let model = try XCTUnwrap(try ModelStore.load(Fixtures.folder + "/zoo/" + arch).model as? DecoderLM)
            let ids = Array(Self.ids.prefix(8)), V = model.vocabSize
            let rows = LogitRows(rows: Array(0..<ids.count))
            try model.run(tokens: ids, B: 1, T: ids.count, head: rows, train: false)
            let cache = model.makeCache(B: 1, maxT: ids.count)
            for (t, id) in ids.enumerated() {
                let step = try model.decode([id], cache: cache).array
                XCTAssertLessThan(
                    maxAbsDiff(step, Array(rows.logits[(t * V)..<((t + 1) * V)])), 1e-4, "\(arch) at \(t)")
            }
        }
    }
    func testQwen2() throws { try check("qwen2") }

    /// The tiny Qwen 2 as llama.cpp lays it out in GGUF (make_gguf_fixtures.py): canonedit reads
    /// it as transformers reads the same file, and as the Hugging Face folder.
    func testQwen2FromGGUF() throws {
        let gguf = try ModelStore.load(Fixtures.folder + "/zoo/qwen2.gguf")
        XCTAssertEqual(gguf.model.architecture, "qwen2")
        let ref = try Fixtures.json("zoo/qwen2.gguf.logits.json") as! [String: Any]
        let ids = (ref["ids"] as! [Int]).map(Int32.init)
        let rows = LogitRows(rows: Array(0..<ids.count))
        try gguf.model.run(tokens: ids, B: 1, T: ids.count, head: rows, train: false)
        let expected = (ref["logits"] as! [[Double]]).flatMap { $0.map(Float.init) }
        XCTAssertLessThan(maxAbsDiff(rows.logits, expected), 1e-4)
        XCTAssertEqual(
            gguf.tokenizer.encode("Hello world"),
            try ModelStore.load(Fixtures.folder + "/zoo/qwen2").tokenizer.encode("Hello world"))
    }
    /// Llama 3.1's rotary scaling: one frequency kept, one blended, two slowed.
    func testLlama31RotaryScaling() throws { try check("llama31") }
    /// A window of 4 on every layer of an 8-long batch.
    func testMistral() throws { try check("mistral") }

    /// The fixture's Backpack is a PyTorch module written from the spec; its parameter names
    /// differ from the checkpoint's, and its sense network uses nn.Linear (out, in).
    func testBackpack() throws {
        let torchName: (String) -> String = { n in
            if n.hasPrefix("backpack.gpt2_model.") { return "gpt2." + n.dropFirst("backpack.gpt2_model.".count) }
            let map = [
                "backpack.sense_network.ln": "sense_ln", "backpack.sense_network.block.ln_1": "block_ln_1",
                "backpack.sense_network.block.ln_2": "block_ln_2", "backpack.sense_network.block.mlp.c_fc": "block_fc",
                "backpack.sense_network.block.mlp.c_proj": "block_proj",
                "backpack.sense_network.final_mlp.c_fc": "final_fc",
                "backpack.sense_network.final_mlp.c_proj": "final_proj",
                "backpack.sense_weight_net.c_attn": "weight_net",
            ]
            let module = String(n[..<n.lastIndex(of: ".")!])
            return (map[module] ?? module) + n[n.lastIndex(of: ".")!...]
        }
        try check(
            "backpack", transposedGrads: { $0.hasPrefix("backpack.gpt2_model.") && GPT2Config.isConv1D($0) },
            gradName: torchName)
    }

    func testArchitectureComesFromConfigNotPath() throws {
        let dir = temporaryFolder(self) + "/llama-looking-name"
        try FileManager.default.copyItem(atPath: Fixtures.folder + "/zoo/gptj", toPath: dir)
        XCTAssertEqual(try ModelStore.load(dir).model.architecture, "gptj")
        // an unknown model_type is a clear error naming the file
        let cfg = dir + "/config.json"
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cfg))) as! [String: Any]
        obj["model_type"] = "mamba"
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        XCTAssertThrowsError(try ModelStore.load(dir)) {
            XCTAssertTrue("\($0)".contains("config.json: model_type \"mamba\""), "\($0)")
        }
        // an inconsistent one too: heads that do not divide the width's tensors
        obj["model_type"] = "gptj"
        obj["n_embd"] = 48
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        XCTAssertThrowsError(try ModelStore.load(dir)) { XCTAssertTrue("\($0)".contains("has shape"), "\($0)") }
    }
}

/// Whole-model finite differences for every architecture, and the Backpack's services.
final class ZooGradientTests: XCTestCase {
    func testFiniteDifferencesThroughEveryArchitecture() throws {
        for arch in ["gpt2", "gpt_neox", "gptj", "llama", "backpack"] {
            let model = try ModelStore.load(Fixtures.folder + "/zoo/" + arch).model
            let ids: [Int32] = [256, 72, 101, 108, 108, 111, 32, 119, 84, 104, 101, 32]
            let base = TokenNLL(nextTokensOf: ids, B: 2, T: 6)
            func head() -> TokenNLL {
                TokenNLL(
                    rows: base.rows, targets: base.targets, weights: [Float](repeating: 0.1, count: base.rows.count))
            }
            model.setTrainable(true)
            model.zeroGrads()
            try model.run(tokens: ids, B: 2, T: 6, head: head(), train: true)
            model.setTrainable(false)
            try checkGradient(
                arch, inputs: model.parameters.map { $0.value.data }, counts: model.parameters.map { $0.value.count },
                analytic: model.parameters.map { $0.grad!.array }, eps: 2e-3, atol: 2e-3, rtol: 3e-2, samples: 4
            ) {
                let h = head()
                try model.run(tokens: ids, B: 2, T: 6, head: h, train: false)
                return h.loss
            }
        }
    }

    func testBackpackSenseDeltasTrainOnlyTheChosenPairs() throws {
        let bp = try XCTUnwrap(try ModelStore.load(Fixtures.folder + "/zoo/backpack").model as? BackpackLM)
        let ids: [Int32] = [72, 101, 108, 108, 111]
        let alpha = try bp.contextualization(tokens: ids, B: 1, T: 5)
        XCTAssertEqual(alpha.shape, [1, 4, 5, 5])
        for l in 0..<4 {
            for i in 0..<5 {
                let row = (0..<5).map { alpha[(l * 5 + i) * 5 + $0] }
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
                XCTAssertTrue(row[(i + 1)...].allSatisfy { $0 == 0 }, "causal")
            }
        }
        let before = try bp.senses(of: [108, 72])
        bp.senseDeltas.select([(token: 108, sense: 2), (token: 111, sense: 0)], C: 32)
        let delta = try XCTUnwrap(bp.senseDeltas.delta)
        bp.setTrainable(false)
        delta.requiresGrad = true
        let target = ScoredSequence.suffix(prefix: [72, 101, 108, 108], suffix: [111])
        func logProb() throws -> Double {
            let h = TokenNLL(rows: Array(target.rows), targets: target.rows.map { target.ids[$0 + 1] })
            try bp.run(tokens: target.ids, B: 1, T: 5, head: h, train: false)
            return -Double(h.nll[0])
        }
        XCTAssertEqual(
            try logProb(),
            try {
                bp.senseDeltas.enabled = false; defer { bp.senseDeltas.enabled = true }; return try logProb()
            }(),
            accuracy: 1e-6, "zero deltas change nothing")
        let lp0 = try logProb()
        for _ in 0..<20 {
            delta.grad?.zero()
            let h = TaskLossObjective(sequences: [target], T: 5, lossType: .good)
            try bp.run(tokens: target.ids, B: 1, T: 5, head: h, train: true)
            for i in 0..<delta.value.count { delta.value[i] -= 0.5 * delta.grad![i] }
        }
        XCTAssertGreaterThan(try logProb(), lp0 + 0.5, "the edited Backpack's target log-prob rises")
        XCTAssertTrue(bp.parameters.allSatisfy { $0.grad == nil }, "no model parameter was given a gradient")
        let after = try bp.senses(of: [108, 72])
        for l in 0..<4 {
            let changed = (0..<32).contains { after[l * 32 + $0] != before[l * 32 + $0] }
            XCTAssertEqual(changed, l == 2, "token 108 changes only in sense 2")
            XCTAssertFalse(
                (0..<32).contains { after[(4 + l) * 32 + $0] != before[(4 + l) * 32 + $0] }, "token 72 is untouched")
        }
    }
}
