import Engine
// Fuzz targets for every parser of files canonedit reads from others. The target is chosen by
// CANONEDIT_FUZZ_TARGET: gguf, safetensors, tokenizer, jsonl, config, edit. Each input is written
// to a scratch file and parsed; errors are the expected outcome, crashes and hangs are bugs.
// Build and run with scripts/fuzz.sh.
import Foundation
import FuzzDriver
import Setting
import Support

nonisolated(unsafe) let target = ProcessInfo.processInfo.environment["CANONEDIT_FUZZ_TARGET"] ?? "gguf"
nonisolated(unsafe) let scratch =
    NSTemporaryDirectory() + "canonedit-fuzz-\(getpid())" + (target == "config" ? ".yaml" : "")

func parse(_ data: Data) {
    FileManager.default.createFile(atPath: scratch, contents: data)
    switch target {
    case "gguf":
        if let g = try? GGUFFile(path: scratch) {
            for n in g.tensorNames.prefix(4) where (g.shape(of: n)?.reduce(1, *) ?? 0) < 1 << 20 {
                try? g.load(n, into: Tensor(g.shape(of: n)!))
            }
            _ = try? BPETokenizer(gguf: g)
        }
    case "safetensors":
        if let f = try? SafetensorsFile(path: scratch) {
            for n in f.tensorNames.prefix(4) where (f.shape(of: n)?.reduce(1, *) ?? 0) < 1 << 20 {
                try? f.load(n, into: Tensor([f.shape(of: n)!.reduce(1, *)]))
            }
        }
    case "tokenizer":
        if let t = try? BPETokenizer(tokenizerJSON: scratch) { _ = t.decode(t.encode("Hello wörld 123 <|endoftext|>")) }
    case "jsonl":
        _ = try? JSONL.examples(scratch, pair: false)
        _ = try? JSONL.examples(scratch, pair: true, skipMalformed: true)
        _ = try? JSONL.texts(scratch)
    case "config":
        _ = try? ExperimentConfig.load(scratch)
    case "edit":
        _ = try? EditArtifact.read(scratch)
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
