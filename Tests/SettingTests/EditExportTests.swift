import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Setting
@testable import Support

/// Exports read back by canonedit's own loaders give the edited model's logits; bad targets and
/// edits a format cannot hold are refused with nothing left behind.
final class EditExportTests: XCTestCase {
    /// A tiny Llama (GGUF-style permuted q/k rows) with a LoRA adapter on q_proj and down_proj.
    func editedTiny() throws -> (LoadedModel, EditSession) {
        let lm = LoadedModel(
            model: try TinyModels.llama(seed: 12), tokenizer: TinyModels.byteTokenizer(), path: "tiny", name: "tiny")
        let s = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        var rng = SeededRandom(seed: 5)
        for m in ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"] {
            let a = try s.attachLowRank(module: m, rank: 2, scale: 0.5)
            for p in [a.A, a.B] { for i in 0..<p.value.count { p.value[i] = Float(rng.normal()) * 0.3 } }
        }
        return (lm, s)
    }

    func testAMergedHuggingFaceExportGivesTheEditedLogits() throws {
        let (lm, s) = try editedTiny()
        let ids: [Int32] = [72, 101, 108, 108, 111, 32, 87]
        let edited = try Scoring.lastLogits(lm.model, ids: ids)
        let out = temporaryFolder(self) + "/merged"
        try EditExport.write(lm, session: s, format: .hf, to: out)
        for f in [
            "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let back = try ModelStore.load(out)
        XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(back.model, ids: ids), edited), 1e-4)
        let plain = try s.withOriginalModel { try Scoring.lastLogits(lm.model, ids: ids) }
        XCTAssertGreaterThan(maxAbsDiff(plain, edited), 1e-3, "the adapters do change the logits")
    }

    func testAPEFTExportNamesTheModulesAndScalesAsPEFTDoes() throws {
        let (lm, s) = try editedTiny()
        let out = temporaryFolder(self) + "/peft"
        try EditExport.write(lm, session: s, format: .peft, to: out)
        let cfg =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/adapter_config.json")))
            as! [String: Any]
        XCTAssertEqual(cfg["peft_type"] as? String, "LORA")
        XCTAssertEqual(cfg["r"] as? Int, 2)
        XCTAssertEqual(cfg["lora_alpha"] as? Double, 1.0, "scale 0.5 = lora_alpha / r")
        let f = try SafetensorsFile(path: out + "/adapter_model.safetensors")
        XCTAssertEqual(
            f.tensorNames,
            [
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
                "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight",
            ])
    }

    func testAPEFTExportImportsBackToTheSameModelThroughPermutedRows() throws {
        let (lm, s) = try editedTiny()  // GGUF-style q/k rows, an adapter on q_proj
        let ids: [Int32] = [72, 101, 108, 108, 111]
        let edited = try Scoring.lastLogits(lm.model, ids: ids)
        let dir = temporaryFolder(self)
        try EditExport.write(lm, session: s, format: .peft, to: dir + "/peft")
        let fresh = LoadedModel(model: try TinyModels.llama(seed: 12), tokenizer: lm.tokenizer, path: "t", name: "t")
        try EditImport.peft(dir + "/peft", for: fresh, to: dir + "/e.safetensors")
        let s2 = EditSession(model: fresh.model, tokenizer: fresh.tokenizer, examples: [], lossType: .good, seed: 0)
        _ = try EditArtifact.apply(dir + "/e.safetensors", to: s2)
        XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(fresh.model, ids: ids), edited), 1e-5)
    }

    /// Every architecture loaded from a Hugging Face folder: a LoRA adapter on the attention
    /// output and a changed final norm, merged and exported, read back with canonedit's loader.
    func testMergedExportsOfEveryZooArchitectureGiveTheEditedLogits() throws {
        for arch in ["gpt2", "gpt_neox", "gptj", "llama", "gemma3", "qwen2", "mistral", "llama31"] {
            let lm = try ModelStore.load(Fixtures.folder + "/zoo/" + arch)
            let s = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
            var rng = SeededRandom(seed: 7)
            let a = try s.attachLowRank(module: lm.model.linears[1].name, rank: 2, scale: 0.5)
            for p in [a.A, a.B] { for i in 0..<p.value.count { p.value[i] = Float(rng.normal()) * 0.3 } }
            let norm = try XCTUnwrap(lm.model.parameters.last { $0.value.shape.count == 1 }, arch)
            s.train(norm)
            for i in 0..<norm.value.count { norm.value[i] *= 1.5 }
            let ids: [Int32] = [72, 101, 108, 108, 111]
            let edited = try Scoring.lastLogits(lm.model, ids: ids)
            let out = temporaryFolder(self) + "/" + arch
            try EditExport.write(lm, session: s, format: .hf, to: out)
            let back = try ModelStore.load(out)
            XCTAssertEqual(back.model.architecture, arch == "llama31" ? "llama" : arch)
            XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(back.model, ids: ids), edited), 1e-4, arch)
            let plain = try s.withOriginalModel { try Scoring.lastLogits(lm.model, ids: ids) }
            XCTAssertGreaterThan(maxAbsDiff(plain, edited), 1e-3, "\(arch): the edit changes the logits")
        }
        let backpack = try ModelStore.load(Fixtures.folder + "/zoo/backpack")
        XCTAssertThrowsError(
            try EditExport.write(backpack, session: nil, format: .hf, to: temporaryFolder(self) + "/bp")
        ) { XCTAssertTrue("\($0)".contains("implemented for llama models and for gpt2"), "\($0)") }
    }

    func testAnExportAboveTheShardSizeIsShardedWithAnIndex() throws {
        let (lm, s) = try editedTiny()
        let ids: [Int32] = [72, 101, 108, 108, 111]
        let edited = try Scoring.lastLogits(lm.model, ids: ids)
        let out = temporaryFolder(self) + "/sharded"
        try EditExport.write(lm, session: s, format: .hf, to: out, maxShardBytes: 4_000)
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        let shards = files.filter { $0.hasPrefix("model-") }.sorted()
        XCTAssertGreaterThan(shards.count, 2, "\(files)")
        XCTAssertEqual(shards.last, String(format: "model-%05d-of-%05d.safetensors", shards.count, shards.count))
        XCTAssertFalse(files.contains("model.safetensors"))
        let index =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors.index.json"))) as! [String: Any]
        let map = try XCTUnwrap(index["weight_map"] as? [String: String])
        XCTAssertEqual(Set(map.keys), Set(lm.model.parameters.map(\.name)))
        XCTAssertEqual(Set(map.values), Set(shards))
        for shard in shards {
            let size = try SafetensorsFile(path: out + "/" + shard).tensorNames.reduce(0) {
                $0 + (try SafetensorsFile(path: out + "/" + shard).shape(of: $1)!.reduce(4, *))
            }
            let names = map.filter { $0.value == shard }.count
            XCTAssertTrue(size <= 4_000 || names == 1, "\(shard): \(size) bytes in \(names) tensors")
        }
        let back = try ModelStore.load(out)
        XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(back.model, ids: ids), edited), 1e-4)
    }

    /// A Llama from a Hugging Face folder has no GGUF metadata to copy: it is built from the config
    /// and tokenizer, and q/k rows go into llama.cpp's order; canonedit reads it back.
    func testAGGUFExportOfAHuggingFaceLlamaReadsBackWithTheEditedLogits() throws {
        let lm = try ModelStore.load(Fixtures.folder + "/zoo/llama")
        let s = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        var rng = SeededRandom(seed: 4)
        let a = try s.attachLowRank(module: "model.layers.0.self_attn.q_proj", rank: 2, scale: 0.5)
        for p in [a.A, a.B] { for i in 0..<p.value.count { p.value[i] = Float(rng.normal()) * 0.3 } }
        let text = "Hello, 1234 zoo"
        let ids = lm.tokenizer.encode(text)
        let edited = try Scoring.lastLogits(lm.model, ids: ids)
        let out = temporaryFolder(self) + "/gguf"
        try EditExport.write(lm, session: s, format: .gguf, to: out, ggufType: .f32)
        let back = try ModelStore.load(out + "/model.gguf")
        XCTAssertEqual(back.tokenizer.encode(text), ids)
        XCTAssertEqual(back.tokenizer.count, lm.tokenizer.count)
        XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(back.model, ids: ids), edited), 1e-4)
        let plain = try s.withOriginalModel { try Scoring.lastLogits(lm.model, ids: ids) }
        XCTAssertGreaterThan(maxAbsDiff(plain, edited), 1e-3, "the adapter changes the logits")
    }

    /// A LoRA edit of every zoo architecture (GPT-2's Conv1D and NeoX's fused projection
    /// included) goes out as a PEFT adapter and comes back in as the same edit.
    func testPEFTExportsOfEveryZooArchitectureImportBackToTheSameLogits() throws {
        for arch in ["gpt2", "gpt_neox", "gptj", "llama", "gemma3", "qwen2", "mistral", "llama31"] {
            let lm = try ModelStore.load(Fixtures.folder + "/zoo/" + arch)
            let s = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
            var rng = SeededRandom(seed: 11)
            for lin in [lm.model.linears[0], lm.model.linears[lm.model.linears.count - 1]] {
                let a = try s.attachLowRank(module: lin.name, rank: 2, scale: 0.5)
                for p in [a.A, a.B] { for i in 0..<p.value.count { p.value[i] = Float(rng.normal()) * 0.3 } }
            }
            let ids: [Int32] = [72, 101, 108, 108, 111]
            let edited = try Scoring.lastLogits(lm.model, ids: ids)
            let dir = temporaryFolder(self) + "/" + arch
            try EditExport.write(lm, session: s, format: .peft, to: dir + "/peft")
            let cfg =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: dir + "/peft/adapter_config.json"))) as! [String: Any]
            XCTAssertEqual(cfg["fan_in_fan_out"] as? Bool, arch == "gpt2", arch)
            let fresh = try ModelStore.load(Fixtures.folder + "/zoo/" + arch)
            try EditImport.peft(dir + "/peft", for: fresh, to: dir + "/e.safetensors")
            let s2 = EditSession(model: fresh.model, tokenizer: fresh.tokenizer, examples: [], lossType: .good, seed: 0)
            _ = try EditArtifact.apply(dir + "/e.safetensors", to: s2)
            XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(fresh.model, ids: ids), edited), 1e-5, arch)
            let plain = try s.withOriginalModel { try Scoring.lastLogits(lm.model, ids: ids) }
            XCTAssertGreaterThan(maxAbsDiff(plain, edited), 1e-3, "\(arch): the adapters change the logits")
        }
    }

    func testBadTargetsAndEditsAFormatCannotHoldAreRefused() throws {
        let (lm, s) = try editedTiny()
        let dir = temporaryFolder(self)
        FileManager.default.createFile(atPath: dir + "/full/x", contents: nil)
        try FileManager.default.createDirectory(atPath: dir + "/full", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/full/x", contents: Data("x".utf8))
        XCTAssertThrowsError(try EditExport.write(lm, session: s, format: .hf, to: dir + "/full")) {
            XCTAssertTrue("\($0)".contains("exists and is not an empty folder"), "\($0)")
        }
        // A tensor edit is no PEFT adapter.
        s.train(lm.model.parameter("model.norm.weight")!)
        XCTAssertThrowsError(try EditExport.write(lm, session: s, format: .peft, to: dir + "/peft")) {
            XCTAssertTrue("\($0)".contains("LoRA edits only"), "\($0)")
        }
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["full"], "nothing half-written")
    }

    /// "new/" exports to the folder "new" (its temporary folder beside it, not inside); a file
    /// written into the target while an export ran is neither deleted nor replaced.
    func testATrailingSlashAndAFileThatAppearsMeanwhile() throws {
        let (lm, s) = try editedTiny()
        let dir = temporaryFolder(self)
        try EditExport.write(lm, session: s, format: .peft, to: dir + "/new/")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["new"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/new/adapter_config.json"))
        // the last step of an export, after someone wrote into the (empty, checked) target
        try Folder.make(dir + "/busy")
        try Folder.make(dir + "/busy.tmp")
        FileManager.default.createFile(atPath: dir + "/busy/theirs", contents: Data("keep".utf8))
        XCTAssertThrowsError(try EditExport.moveIntoPlace(dir + "/busy.tmp", dir + "/busy")) {
            XCTAssertTrue("\($0)".contains("something was written there during the export"), "\($0)")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/busy/theirs"), Data("keep".utf8))
        // into an empty target it goes in one step
        try Folder.make(dir + "/empty")
        try Folder.make(dir + "/empty.tmp")
        FileManager.default.createFile(atPath: dir + "/empty.tmp/ours", contents: Data())
        try EditExport.moveIntoPlace(dir + "/empty.tmp", dir + "/empty")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/empty/ours"))
    }
}

/// Edits made by other tools become canonedit edits that give the same model.
final class EditImportTests: XCTestCase {
    /// A PEFT adapter holding a NaN is refused at import (it imported, and its edit scored NaN).
    func testAnAdapterHoldingANaNIsRefused() throws {
        let dir = temporaryFolder(self) + "/adapter"
        try FileManager.default.copyItem(atPath: Fixtures.folder + "/peft/adapter", toPath: dir)
        let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        var tensors: [(String, Tensor)] = []
        for name in file.order {
            let t = Tensor(file.entries[name]!.shape)
            try file.load(name, into: t)
            tensors.append((name, t))
        }
        tensors[0].1.data[0] = .nan
        try SafetensorsWriter.write(tensors, to: dir + "/adapter_model.safetensors", metadata: ["format": "pt"])
        let lm = try ModelStore.load(Fixtures.folder + "/zoo/llama")
        XCTAssertThrowsError(try EditImport.peft(dir, for: lm, to: temporaryFolder(self) + "/e.safetensors")) {
            XCTAssertTrue("\($0)".contains("holds a NaN or infinite value"), "\($0)")
        }
    }

    func testAnAdapterWrittenByPEFTGivesPEFTsLogits() throws {
        let fixture = Fixtures.folder + "/peft"
        let lm = try ModelStore.load(Fixtures.folder + "/zoo/llama")
        let out = temporaryFolder(self) + "/imported.safetensors"
        let modules = try EditImport.peft(fixture + "/adapter", for: lm, to: out)
        XCTAssertEqual(modules.count, 4, "q_proj and down_proj of both layers: \(modules)")
        let ref = try Fixtures.json("peft/logits.json") as! [String: Any]
        let ids = (ref["ids"] as! [Int]).map(Int32.init)
        let expected = (ref["last_logits"] as! [Double]).map(Float.init)
        let fresh = try ModelStore.load(Fixtures.folder + "/zoo/llama")
        let s = EditSession(model: fresh.model, tokenizer: fresh.tokenizer, examples: [], lossType: .good, seed: 0)
        _ = try EditArtifact.apply(out, to: s)
        XCTAssertLessThan(maxAbsDiff(try Scoring.lastLogits(fresh.model, ids: ids), expected), 1e-4)
        XCTAssertGreaterThan(
            maxAbsDiff(try s.withOriginalModel { try Scoring.lastLogits(fresh.model, ids: ids) }, expected), 1e-3)
    }

    func testAFinetunedCopyBecomesATensorEdit() throws {
        let dir = temporaryFolder(self)
        let base = LoadedModel(
            model: try TinyModels.llama(seed: 3), tokenizer: TinyModels.byteTokenizer(), path: "b", name: "b")
        let tuned = LoadedModel(
            model: try TinyModels.llama(seed: 3), tokenizer: TinyModels.byteTokenizer(), path: "t", name: "t")
        let p = tuned.model.parameter("model.layers.1.mlp.up_proj.weight")!
        for i in 0..<p.value.count { p.value[i] += 0.01 }
        try HuggingFaceExport.write(tuned, to: dir + "/tuned")
        let changed = try EditImport.hf(dir + "/tuned", for: base, to: dir + "/e.safetensors")
        XCTAssertEqual(changed, [p.name])
        let s = EditSession(model: base.model, tokenizer: base.tokenizer, examples: [], lossType: .good, seed: 0)
        _ = try EditArtifact.apply(dir + "/e.safetensors", to: s)
        XCTAssertEqual(base.model.parameter(p.name)!.value.array, p.value.array)
    }

    func testPermuteUndoesUnpermute() {
        var rng = SeededRandom(seed: 2)
        let w = Tensor([16, 3], values: (0..<48).map { _ in Float(rng.normal()) })
        XCTAssertEqual(HuggingFaceExport.permute(HuggingFaceExport.unpermute(w, headDim: 4), headDim: 4).array, w.array)
    }
}
