import ArgumentParser
import Engine
import Foundation
import Setting
import Support

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Take an edited model out of canonedit: a Hugging Face folder with the edit merged, or a PEFT adapter.",
        discussion: """
            hf: config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json; \
            transformers loads it with AutoModelForCausalLM.from_pretrained. A GGUF model is written with its \
            q/k rows in Hugging Face's order. peft: adapter_config.json and adapter_model.safetensors for a LoRA \
            edit, to load with PeftModel.from_pretrained on the unedited model exported with --format hf. Llama \
            models for now; GGUF export, other architectures and importing outside edits are not done yet. \
            Nothing is left half-written: the folder is written beside --out and renamed at the end.
            """ + "\n\n"
                + examples(
                    "canonedit export --edit runs/x.edit-0.0001.safetensors --format hf --out exports/smollm2-edited",
                    "canonedit export --format hf --out exports/smollm2     # the unedited base, for PEFT",
                    "canonedit export --edit runs/x.edit-0.0001.safetensors --format peft --out exports/lora"))
    @OptionGroup var m: ModelOptions
    @OptionGroup var e: EditOptions
    @Option(help: "hf (the edit merged into a Hugging Face folder) or peft (a LoRA edit as a PEFT adapter).")
    var format: String
    @Option(help: "The folder to write (must not exist, or be empty).") var out: String

    func validate() throws {
        try require(EditExport.Format(rawValue: format) != nil, "--format must be hf or peft, not \(format)")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            let session = try e.apply(to: lm)
            try EditExport.write(lm, session: session, format: EditExport.Format(rawValue: format)!, to: out)
            stderr("wrote \(out)")
        }
    }
}
