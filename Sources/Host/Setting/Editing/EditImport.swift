import Engine
import Foundation
import Support

/// Edits made by other tools, turned into canonedit edit files so they can be evaluated in
/// canonedit's setting, balls included:
///   peft  a PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors);
///   hf    a finetuned copy of the same base as a Hugging Face folder: the tensors that differ
///         become the edit (stored whole or as changed entries).
public enum EditImport {
    /// Writes `out` from the PEFT adapter in `dir` for `lm`'s model. Returns the modules adapted.
    @discardableResult
    public static func peft(_ dir: String, for lm: LoadedModel, to out: String) throws -> [String] {
        let cfgPath = dir + "/adapter_config.json"
        guard let data = MappedFile.contents(cfgPath),
            let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw CanonEditError("\(cfgPath): not a PEFT adapter config") }
        guard cfg["peft_type"] as? String == "LORA", let r = cfg["r"] as? Int, r >= 1,
            let alpha = (cfg["lora_alpha"] as? NSNumber)?.doubleValue
        else { throw CanonEditError("\(cfgPath): needs peft_type LORA, r and lora_alpha") }
        // What canonedit's adapters (y += alpha/r · x Aᵀ Bᵀ) cannot express is refused by name.
        for (key, plain) in [
            ("rank_pattern", "{}"), ("alpha_pattern", "{}"), ("use_dora", "false"),
            ("use_rslora", "false"), ("fan_in_fan_out", "false"), ("modules_to_save", "null"),
            ("bias", "none"),
        ] {
            // PEFT sets fan_in_fan_out for GPT-2's Conv1D; its lora_A and lora_B are laid out as usual.
            if key == "fan_in_fan_out", lm.model.architecture == "gpt2" { continue }
            if let v = cfg[key], !isPlain(v) {
                throw CanonEditError("\(cfgPath): \(key) = \(v) is not supported (only \(plain))")
            }
        }
        let weights = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        let prefix = "base_model.model.", suffix = ".lora_A.weight"
        let modules = weights.tensorNames.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
            .map { String($0.dropFirst(prefix.count).dropLast(suffix.count)) }
        guard !modules.isEmpty else { throw CanonEditError("\(dir)/adapter_model.safetensors: no lora_A tensors") }
        let session = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        let interleaved = (lm.model as? DecoderLM)?.config?.rope_interleaved == true
        for m in modules {
            let a = try session.attachLowRank(module: m, rank: r, scale: Float(alpha / Double(r)))
            try weights.load(prefix + m + ".lora_A.weight", into: a.A.value)
            try weights.load(prefix + m + ".lora_B.weight", into: a.B.value)
            // A GGUF model keeps q/k rows in its own order: PEFT's rows follow Hugging Face's.
            if interleaved, HuggingFaceExport.isQueryOrKey(m), let c = (lm.model as? DecoderLM)?.config {
                a.B.value.copy(from: HuggingFaceExport.permute(a.B.value, headDim: c.D))
            }
        }
        if let bad = session.firstNonFinite() {
            throw CanonEditError("\(dir)/adapter_model.safetensors: \(bad) holds a NaN or infinite value")
        }
        try EditArtifact.save(
            session, method: EditValidation.importedPEFT, basePath: lm.path, ball: nil, epoch: nil, to: out)
        session.revert()
        return modules
    }

    /// Writes `out` from the tensors in which the finetuned folder `dir` differs from `lm`'s
    /// model. Returns the tensors changed.
    @discardableResult
    public static func hf(_ dir: String, for lm: LoadedModel, to out: String) throws -> [String] {
        let tuned = try ModelStore.load(dir).model
        guard tuned.architecture == lm.model.architecture, tuned.parameterCount == lm.model.parameterCount else {
            throw CanonEditError(
                "\(dir): a \(tuned.architecture) of \(tuned.parameterCount) parameters is not a finetuned copy of "
                    + "this \(lm.model.architecture) of \(lm.model.parameterCount)")
        }
        let session = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        var changed: [String] = []
        // A GGUF base keeps q/k rows in its own order; the folder has Hugging Face's.
        let reorder = (lm.model as? DecoderLM)?.config.flatMap { c in
            c.rope_interleaved == true && (tuned as? DecoderLM)?.config?.rope_interleaved != true ? c.D : nil
        }
        for p in lm.model.parameters {
            guard let q = tuned.parameter(p.name), q.value.shape == p.value.shape else {
                throw CanonEditError("\(dir): no tensor \(p.name) of shape \(p.value.shape)")
            }
            let qk = HuggingFaceExport.isQueryOrKey(p.name)
            let value = reorder.map { qk ? HuggingFaceExport.permute(q.value, headDim: $0) : q.value } ?? q.value
            guard memcmp(p.value.data, value.data, p.value.count * 4) != 0 else { continue }
            session.train(p)
            p.value.copy(from: value)
            changed.append(p.name)
        }
        guard !changed.isEmpty else { throw CanonEditError("\(dir): identical to the model; there is no edit") }
        try EditArtifact.save(
            session, method: EditValidation.importedFolder, basePath: lm.path, ball: nil, epoch: nil, to: out)
        session.revert()
        return changed
    }

    static func isPlain(_ v: Any) -> Bool {
        if v is NSNull { return true }
        if let d = v as? [String: Any] { return d.isEmpty }
        if let b = v as? Bool { return !b }
        if let s = v as? String { return s == "none" }
        if let n = v as? NSNumber { return n == 0 }
        return false
    }
}
