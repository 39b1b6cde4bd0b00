import Engine
import Foundation
import Support

/// An edited model taken out of canonedit (README: Using an edit elsewhere). Each format is
/// written to a temporary folder beside `out` and renamed into place at the end, so nothing
/// half-written is left; an `out` that exists and is not empty is refused.
///   hf    the model with the edit merged (adapters folded into their weights), as a Hugging
///         Face folder transformers loads (Llama; GPT-2, GPT-NeoX, GPT-J, Qwen 2, Mistral, Gemma 3 from a folder);
///   peft  a LoRA edit as a PEFT adapter (adapter_config.json, adapter_model.safetensors)
///         for the unedited model exported with `hf`;
///   gguf  the model with the edit merged as GGUF for llama.cpp (Llama);
///   ensemble  a Backpack's folder, its edit files and an ensemble spec (EnsembleExport).
public enum EditExport {
    public enum Format: String, CaseIterable { case hf, peft, gguf, ensemble }

    public static func write(
        _ lm: LoadedModel, session: EditSession?, format: Format, to out: String,
        ggufType: GGUFWriter.TensorType = .f16, maxShardBytes: Int = SafetensorsShards.defaultMaxShardBytes,
        ensemble: EnsembleExport.Target? = nil, peftBase: String? = nil
    ) throws {
        // "new/" names the folder "new": the temporary folder must be beside it, not inside.
        var out = out
        while out.count > 1 && out.hasSuffix("/") { out.removeLast() }
        try checkTarget(out)
        if let s = session, let record = s.hookMethod {
            throw CanonEditError(
                "a \(record.id) edit runs inside the forward pass through its plugin; no weight file can hold it. "
                    + "Apply it with --edit (eval, generate, score) instead")
        }
        if lm.model is BackpackLM, format != .ensemble, session.map({ $0.trained.isEmpty }) == false {
            throw CanonEditError(
                "a Backpack's sense edit does not merge into one model: export it with --format ensemble --large M")
        }
        let tmp = out + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        try Folder.make(tmp)
        do {
            switch format {
            case .hf: try writeMerged(lm, to: tmp, maxShardBytes: maxShardBytes)
            case .peft: try writePEFT(lm, session: session, base: peftBase, to: tmp)
            case .gguf: try writeGGUF(lm, type: ggufType, to: tmp + "/model.gguf")
            case .ensemble:
                guard let ensemble else { throw CanonEditError("--format ensemble needs --large (the large model)") }
                try EnsembleExport.write(lm, target: ensemble, to: tmp)
            }
            try moveIntoPlace(tmp, out)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }

    /// Renames the finished folder to `out`. rename(2) replaces an empty folder in one step and
    /// refuses one that is not empty, so a file that appeared in `out` meanwhile, or another
    /// export that finished first, is never deleted or replaced: this export fails instead.
    static func moveIntoPlace(_ tmp: String, _ out: String) throws {
        guard rename(tmp, out) == 0 else {
            let reason =
                errno == ENOTEMPTY || errno == EEXIST
                ? "something was written there during the export; it is left as it is"
                : String(cString: strerror(errno))
            throw CanonEditError("\(out): cannot put the export in place (\(reason))")
        }
    }

    static func checkTarget(_ out: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: out, isDirectory: &isDir) else { return }
        guard isDir.boolValue, (try? FileManager.default.contentsOfDirectory(atPath: out))?.isEmpty == true else {
            throw CanonEditError("\(out): exists and is not an empty folder; choose a new --out")
        }
    }

    /// The model as GGUF for llama.cpp, the edit merged: the source GGUF's metadata (architecture
    /// keys, tokenizer) copied verbatim, or for a Llama from a Hugging Face folder built from its
    /// config and tokenizer; the weights in llama.cpp's names and q/k row order.
    static func writeGGUF(_ lm: LoadedModel, type: GGUFWriter.TensorType, to path: String) throws {
        guard let llama = lm.model as? DecoderLM, Architecture.named(llama.architecture)?.ggufExport == true,
            let cfg = llama.config
        else {
            throw CanonEditError(
                "GGUF export is implemented for \(Architecture.names { $0.ggufExport }) models (this is "
                    + "\(lm.model.architecture))")
        }
        let merged = mergedValues(lm)
        guard lm.path.hasSuffix(".gguf") else {  // from a Hugging Face folder: metadata built from its config
            let tensors = LlamaGGUF.tensors(llama, headDim: cfg.D, value: merged)
            let metadata = try LlamaGGUF.metadata(cfg, tokenizer: lm.tokenizer, name: lm.name)
            return try GGUFWriter.write(tensors, metadata: metadata, type: type, to: path)
        }
        let source = try GGUFFile(path: lm.path)
        let tensors = lm.model.parameters.map { p in
            (GGUFLoader.ggufName(llama: p.name), merged(p))
        }
        try GGUFWriter.write(tensors, metadataFrom: source, type: type, to: path)
    }

    /// Each parameter's values with every adapter folded into its weight (W + scale · B A).
    static func mergedValues(_ lm: LoadedModel) -> (Parameter) -> Tensor {
        var merged: [ObjectIdentifier: Tensor] = [:]
        for lin in lm.model.linears {
            guard let a = lin.slot.adapter else { continue }
            let w = lin.weight.value.clone()  // (out, in)
            a.fold(into: w)
            merged[ObjectIdentifier(lin.weight)] = w
        }
        return { p in merged[ObjectIdentifier(p)] ?? p.value }
    }

    static func writeMerged(_ lm: LoadedModel, to dir: String, maxShardBytes: Int) throws {
        try HuggingFaceExport.write(lm, to: dir, maxShardBytes: maxShardBytes, value: mergedValues(lm))
    }

    /// The session's adapters in PEFT's layout. PEFT names modules after the Hugging Face model
    /// (`base_model.model.<module>.lora_A.weight`), scales by lora_alpha / r, and needs one rank
    /// and one scale for all modules here. GPT-2, GPT-NeoX and GPT-J keep their module names
    /// (fused c_attn and query_key_value included).
    /// `base` is what `base_model_name_or_path` names: the given folder or id, else the Hugging
    /// Face folder the model was loaded from (a GGUF has none: null).
    static func writePEFT(_ lm: LoadedModel, session: EditSession?, base: String?, to dir: String) throws {
        guard let decoder = lm.model as? DecoderLM, let arch = Architecture.named(decoder.architecture), arch.peft
        else {
            throw CanonEditError(
                "PEFT export is implemented for \(Architecture.names { $0.peft }) models, not \(lm.model.architecture)")
        }
        let adapted = lm.model.linears.filter { $0.slot.adapter != nil }
        guard !adapted.isEmpty,
            session.map({
                $0.trained.allSatisfy { p in adapted.contains { $0.slot.adapter!.A === p || $0.slot.adapter!.B === p } }
            }) ?? false
        else {
            throw CanonEditError("a PEFT adapter holds LoRA edits only: the edit must change adapters and nothing else")
        }
        let ranks = Set(adapted.map { $0.slot.adapter!.rank }), scales = Set(adapted.map { $0.slot.adapter!.scale })
        guard ranks.count == 1, scales.count == 1 else {
            throw CanonEditError(
                "PEFT export needs one rank and one scale for every adapter (found \(ranks), \(scales))")
        }
        let r = ranks.first!, scale = scales.first!
        var tensors: [(String, Tensor)] = []
        for lin in adapted {
            let a = lin.slot.adapter!
            // GGUF stores q/k rows permuted; the exported base has them in Hugging Face's order.
            let qk =
                decoder.config?.rope_interleaved == true && HuggingFaceExport.isQueryOrKey(lin.name)
            let b = qk ? HuggingFaceExport.unpermute(a.B.value, headDim: decoder.config!.D) : a.B.value
            tensors.append(("base_model.model.\(lin.name).lora_A.weight", a.A.value))
            tensors.append(("base_model.model.\(lin.name).lora_B.weight", b))
        }
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": Double(scale) * Double(r),
            "target_modules": adapted.map(\.name), "lora_dropout": 0.0, "bias": "none",
            // GPT-2's Conv1D stores (in, out); PEFT marks it, but lora_A and lora_B keep Linear's layout.
            "fan_in_fan_out": arch.peftFanInFanOut,
            "inference_mode": true, "base_model_name_or_path": peftBase(lm, base) ?? NSNull(),
        ]
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted]),
            to: dir + "/adapter_config.json")
        try SafetensorsWriter.write(tensors, to: dir + "/adapter_model.safetensors", metadata: ["format": "pt"])
    }

    /// The base a PEFT adapter names: `given`, else an absolute path to the Hugging Face folder
    /// the model was loaded from, else nil.
    public static func peftBase(_ lm: LoadedModel, _ given: String?) -> String? {
        if let given {
            return given.hasPrefix("/") || !FileManager.default.fileExists(atPath: given)
                ? given : FileManager.default.currentDirectoryPath + "/" + given
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: lm.path, isDirectory: &isDir), isDir.boolValue else { return nil }
        return lm.path.hasPrefix("/") ? lm.path : FileManager.default.currentDirectoryPath + "/" + lm.path
    }
}
