import ArgumentParser
import Engine
import Foundation
import Setting
import Support

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract:
            "Turn an edit made by another tool into a canonedit edit file, to evaluate it in canonedit's setting.",
        discussion: """
            --peft DIR: a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors) for --model. \
            --hf DIR: a finetuned copy of --model as a Hugging Face folder; the tensors that differ become the edit. \
            The edit file is checked against --model like any other (its identity is --model's).
            """ + "\n\n"
                + examples(
                    "canonedit import --peft my-adapter --model models/base-hf --out adapter.edit.safetensors",
                    "canonedit eval --task country_capital --data eval.jsonl --model models/base-hf --edit "
                        + "adapter.edit.safetensors"
                ))
    @OptionGroup var m: ModelOptions
    @Option(help: "A PEFT LoRA adapter folder.") var peft: String?
    @Option(help: "A finetuned copy of the model (Hugging Face folder).") var hf: String?
    @Option(help: "The edit file to write.") var out: String

    func validate() throws {
        try require((peft == nil) != (hf == nil), "give exactly one of --peft DIR and --hf DIR")
    }

    func run() throws {
        try guarded {
            let lm = try m.load()
            if let peft {
                let modules = try EditImport.peft(peft, for: lm, to: out)
                stderr("\(out): a LoRA edit of \(modules.count) modules from \(peft)")
            } else if let hf {
                let tensors = try EditImport.hf(hf, for: lm, to: out)
                stderr("\(out): \(tensors.count) tensors that differ in \(hf)")
            }
        }
    }
}
