import ArgumentParser
import Engine
import Foundation
import Setting
import Support

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Take an edited model out of canonedit: Hugging Face or GGUF with the edit merged, a PEFT adapter, "
            + "or a Backpack ensemble.",
        discussion: """
            hf: config.json, model.safetensors (shards and model.safetensors.index.json above \
            --max-shard-mb), tokenizer.json, tokenizer_config.json, generation_config.json; \
            transformers loads it with AutoModelForCausalLM.from_pretrained. A GGUF model is written with its \
            q/k rows in Hugging Face's order. peft: adapter_config.json and adapter_model.safetensors for a LoRA \
            edit, to load with PeftModel.from_pretrained on the unedited model exported with --format hf. gguf: \
            model.gguf for llama.cpp (--gguf-type f32, f16 or q8_0; Llama; the metadata of a model loaded from \
            GGUF copied, else built from config.json and the tokenizer). hf is written for Llama models and \
            for GPT-2, GPT-NeoX, GPT-J, Qwen 2, Mistral and Gemma 3 loaded from a Hugging Face folder (its \
            config and tokenizer files copied), and so is peft; gguf for Llama. ensemble: the \
            companion-Backpack ensemble is not one model, \
            and a sense edit does not merge into the companion's weights, so it is written as canonedit loads it: \
            backpack/ (the Backpack's folder), edits/ (the --edit files, copied) and ensemble.yaml naming --large \
            and --beta; canonedit's --model DIR/ensemble.yaml runs it. The large model is named, not copied. \
            Nothing is left half-written: the folder is written beside --out and renamed at the end.
            """ + "\n\n"
                + examples(
                    "canonedit export --edit runs/x.edit-0.0001.safetensors --format hf --out exports/smollm2-edited",
                    "canonedit export --format hf --out exports/smollm2     # the unedited base, for PEFT",
                    "canonedit export --edit runs/x.edit-0.0001.safetensors --format peft --out exports/lora",
                    "canonedit export --model companions/smollm2 --edit runs/companion-country_capital-senses.edit-"
                        + "0.0001.safetensors --format ensemble --large smollm2 --beta 1 --out exports/ensemble"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(
        help: ArgumentHelp(
            "hf (the edit merged into a Hugging Face folder), peft (a LoRA edit as a PEFT adapter), gguf, "
                + "or ensemble (a Backpack, its edits and an ensemble spec)."))
    var format: String
    @Option(help: "The folder to write (must not exist, or be empty).") var out: String
    @Option(name: .customLong("gguf-type"), help: "With --format gguf: f32, f16 or q8_0 for the matrices.")
    var ggufType = "f16"
    @Option(
        name: .customLong("max-shard-mb"),
        help: "With --format hf: weights above this many MB (10^6 bytes) are split into shards with an index file.")
    var maxShardMB = SafetensorsShards.defaultMaxShardBytes / 1_000_000
    @Option(help: "With --format ensemble: the large model the Backpack's edit is carried into (named, not copied).")
    var large: String?
    @Option(
        help: "With --format ensemble: β, the weight of the Backpack's change (the one `canonedit ensemble` chose).")
    var beta = 1.0
    @Option(
        help: ArgumentHelp(
            "With --format peft: the base the adapter applies to, written as base_model_name_or_path: the folder "
                + "`export --format hf` wrote for the unedited model (dequantized), or a hub id. Default: the Hugging "
                + "Face folder the model was loaded from; none for a GGUF.", valueName: "DIR|ID"))
    var base: String?

    func validate() throws {
        try require(
            EditExport.Format(rawValue: format) != nil, "--format must be hf, peft, gguf or ensemble, not \(format)")
        try require((format == "ensemble") == (large != nil), "--large goes with --format ensemble, and only with it")
        try require((0...1).contains(beta), "--beta must be in [0, 1], not \(beta)")
        try require(GGUFWriter.TensorType(rawValue: ggufType) != nil, "--gguf-type must be f32, f16 or q8_0")
        try require(maxShardMB >= 1, "--max-shard-mb must be at least 1, not \(maxShardMB)")
        try require(base == nil || format == "peft", "--base goes with --format peft")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            let session = try e.apply(to: lm)
            try EditExport.write(
                lm, session: session, format: EditExport.Format(rawValue: format)!, to: out,
                ggufType: GGUFWriter.TensorType(rawValue: ggufType)!, maxShardBytes: maxShardMB * 1_000_000,
                ensemble: large.map { .init(large: $0, beta: beta, edits: e.edits, composition: e.compose) },
                peftBase: base)
            stderr("wrote \(out)")
            if format == "peft", EditExport.peftBase(lm, base) == nil {
                stderr(
                    "note: base_model_name_or_path is null (the model is a GGUF): export the unedited base with "
                        + "`canonedit export --format hf --out DIR` and pass --base DIR to name it")
            }
        }
    }
}
