// Fuzz targets for every parser of files canonedit reads from others. The target is chosen by
// CANONEDIT_FUZZ_TARGET: gguf, safetensors, tokenizer, jsonl, config, edit, modelconfig, spec.
// Each input is written to a scratch file, parsed and then used as canonedit uses it (a
// safetensors file loaded into a model, an edit applied to a tiny model, a config.json loaded
// with a tiny model's weights); errors are the expected outcome, crashes and hangs are bugs.
// Build and run with scripts/fuzz.sh.
import Engine
import Experiments
import Foundation
import FuzzDriver
import Setting
import Support

nonisolated(unsafe) let target = ProcessInfo.processInfo.environment["CANONEDIT_FUZZ_TARGET"] ?? "gguf"
nonisolated(unsafe) let scratch =
    NSTemporaryDirectory() + "canonedit-fuzz-\(getpid())" + (target == "config" || target == "spec" ? ".yaml" : "")

/// A tiny Llama's Hugging Face folder (config.json, tokenizer.json, model.safetensors) for the
/// modelconfig target: each input replaces its config.json.
nonisolated(unsafe) let exportedFolder: String = {
    let dir = NSTemporaryDirectory() + "canonedit-fuzz-hf-\(getpid())"
    try? HuggingFaceExport.write(
        LoadedModel(model: try! TinyModels.llama(), tokenizer: TinyModels.byteTokenizer(), path: "tiny", name: "tiny"),
        to: dir)
    return dir
}()

/// A tiny model folder for the safetensors target: config.json and tokenizer.json of a tiny
/// Llama; each input becomes its model.safetensors.
nonisolated(unsafe) let modelFolder: String = {
    let dir = NSTemporaryDirectory() + "canonedit-fuzz-model-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config =
        #"{"model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2, "#
        + #""num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-5, "#
        + #""rope_theta": 10000, "vocab_size": 257, "max_position_embeddings": 64, "tie_word_embeddings": true}"#
    FileManager.default.createFile(atPath: dir + "/config.json", contents: Data(config.utf8))
    FileManager.default.createFile(
        atPath: dir + "/tokenizer.json", contents: try? TinyModels.byteTokenizer().tokenizerJSON())
    return dir
}()

/// Sessions over a tiny Llama and a tiny Backpack, for the edit target.
nonisolated(unsafe) let tinySessions: [EditSession] = {
    let tok = TinyModels.byteTokenizer()
    return [try! TinyModels.llama() as CausalLM, try! TinyModels.backpack() as CausalLM].map {
        EditSession(model: $0, tokenizer: tok, examples: [], lossType: .good, seed: 0)
    }
}()

func parse(_ data: Data) {
    FileManager.default.createFile(atPath: scratch, contents: data)
    switch target {
    case "gguf":
        if let g = try? GGUFFile(path: scratch) {
            for n in g.tensorNames.prefix(4) where (g.shape(of: n)?.reduce(1, *) ?? 0) < 1 << 20 {
                try? g.load(n, into: Tensor(g.shape(of: n)!))
            }
            _ = try? Tokenizer(gguf: g)
        }
    case "safetensors":
        if let f = try? SafetensorsFile(path: scratch) {
            for n in f.tensorNames.prefix(4) where (f.shape(of: n)?.reduce(1, *) ?? 0) < 1 << 20 {
                try? f.load(n, into: Tensor([f.shape(of: n)!.reduce(1, *)]))
            }
            // As the weights of a model folder (a tiny Llama's config and tokenizer).
            try? FileManager.default.removeItem(atPath: modelFolder + "/model.safetensors")
            try? FileManager.default.copyItem(atPath: scratch, toPath: modelFolder + "/model.safetensors")
            _ = try? ModelStore.load(modelFolder)
        }
    case "tokenizer":
        if let t = try? Tokenizer(tokenizerJSON: scratch) { _ = t.decode(t.encode("Hello wörld 123 <|endoftext|>")) }
    case "jsonl":
        _ = try? JSONL.examples(scratch, pair: false)
        _ = try? JSONL.examples(scratch, pair: true, skipMalformed: true)
        _ = try? JSONL.texts(scratch)
    case "config":
        _ = try? ExperimentConfig.load(scratch)
    case "modelconfig":
        FileManager.default.createFile(atPath: exportedFolder + "/config.json", contents: data)
        if let lm = try? ModelStore.load(exportedFolder) {
            _ = try? lm.model.run(tokens: [1, 2, 3], B: 1, T: 3, head: TokenNLL(rows: [], targets: []), train: false)
        }
    case "spec":
        // The same bytes as a sweep spec, a benchmark spec and an ensemble spec.
        _ = try? SweepSpec.load(scratch)
        _ = try? BenchmarkSpec.load(scratch)
        _ = try? EnsembleSpec.load(scratch)
    case "edit":
        // Read, then applied to a tiny Llama and a tiny Backpack whatever base it names.
        for s in tinySessions {
            _ = try? EditArtifact.apply(scratch, to: s, force: true, trust: true)
            s.revert()
        }
    default:
        fatalError("unknown CANONEDIT_FUZZ_TARGET \(target)")
    }
}

@_cdecl("CanonEditFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzz_driver_run(argc, argv) { data, size in
        parse(Data(bytes: data!, count: size))
        return 0
    }
}
