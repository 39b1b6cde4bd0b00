import XCTest
@testable import HostCore

/// Tiny random models of each architecture, saved by Hugging Face transformers
/// (Fixtures/zoo/make_fixtures.py): canonedit must load the folders and reproduce PyTorch's
/// logits, loss and every parameter's gradient.
final class ZooReferenceTests: XCTestCase {
    static let ids: [Int32] = [256, 72, 101, 108, 108, 111, 32, 119, 84, 104, 101, 32, 99, 97, 116, 256]   // (B=2, T=8)

    func check(_ arch: String, transposedGrads: (String) -> Bool = { _ in false }, gradName: (String) -> String = { $0 },
               file: StaticString = #filePath, line: UInt = #line) throws {
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
        XCTAssertEqual(head.loss, Double(try ref.tensor("loss", shape: [1])[0]), accuracy: 1e-5, "\(arch) loss", file: file, line: line)
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
            XCTAssertLessThan(maxAbsDiff(ours, g.array), 1e-4 * scale + 1e-6, "\(arch) gradient of \(p.name)", file: file, line: line)
            compared += 1
        }
        XCTAssertEqual(compared, model.parameters.count)
    }

    func testGPT2() throws { try check("gpt2", transposedGrads: GPT2Config.isConv1D) }
    func testGPTNeoX() throws { try check("gpt_neox", gradName: { $0 == "embed_out.weight" ? "lm_head.weight" : $0 }) }
    func testGPTJ() throws { try check("gptj") }
    func testLlamaFromHuggingFace() throws { try check("llama") }

    /// The fixture's Backpack is a PyTorch module written from the spec; its parameter names
    /// differ from the checkpoint's, and its sense network uses nn.Linear (out, in).
    func testBackpack() throws {
        let torchName: (String) -> String = { n in
            if n.hasPrefix("backpack.gpt2_model.") { return "gpt2." + n.dropFirst("backpack.gpt2_model.".count) }
            let map = ["backpack.sense_network.ln": "sense_ln", "backpack.sense_network.block.ln_1": "block_ln_1",
                       "backpack.sense_network.block.ln_2": "block_ln_2", "backpack.sense_network.block.mlp.c_fc": "block_fc",
                       "backpack.sense_network.block.mlp.c_proj": "block_proj", "backpack.sense_network.final_mlp.c_fc": "final_fc",
                       "backpack.sense_network.final_mlp.c_proj": "final_proj", "backpack.sense_weight_net.c_attn": "weight_net"]
            let module = String(n[..<n.lastIndex(of: ".")!])
            return (map[module] ?? module) + n[n.lastIndex(of: ".")!...]
        }
        try check("backpack", transposedGrads: { $0.hasPrefix("backpack.gpt2_model.") && GPT2Config.isConv1D($0) }, gradName: torchName)
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
        XCTAssertThrowsError(try ModelStore.load(dir)) { XCTAssertTrue("\($0)".contains("config.json: model_type \"mamba\""), "\($0)") }
        // an inconsistent one too: heads that do not divide the width's tensors
        obj["model_type"] = "gptj"
        obj["n_embd"] = 48
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        XCTAssertThrowsError(try ModelStore.load(dir)) { XCTAssertTrue("\($0)".contains("has shape"), "\($0)") }
    }
}
