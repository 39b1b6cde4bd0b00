import Foundation
import Support

/// One model type canonedit reads: how its config becomes a decoder recipe from a Hugging Face
/// folder and (where llama.cpp writes it) from GGUF, and how an edited model of it is written
/// back. Every loader and exporter looks a model type up here; adding one means an entry in
/// `Architecture.all` and a file of its own (docs/architecture.md shows Qwen 2's).
public struct Architecture {
    /// The decoder's name: `DecoderSpec.architecture`, and what plugins see as the model's
    /// architecture (ce_model_info).
    public let name: String
    /// The `model_type` values of a Hugging Face `config.json` that name it.
    public let modelTypes: [String]
    /// `general.architecture` in a GGUF file, when canonedit reads it from GGUF.
    public let ggufName: String?

    /// How a folder's config and weights become a recipe; nil for a model that is not one of
    /// canonedit's decoders (the Backpack, built by its own loader).
    let folderRecipe: ((HuggingFaceLoader.Folder) throws -> DecoderRecipe)?
    /// How a GGUF file's metadata and tensors become a recipe (the path names errors).
    let ggufRecipe: ((GGUFFile, Tokenizer, String) throws -> DecoderRecipe)?

    /// How `export --format hf` writes it.
    public enum FolderExport {
        /// config.json written from the model's own config (a Llama, from a folder or a GGUF).
        case ownConfig
        /// The source folder's files copied, each weight turned back to its stored form.
        case likeSource((_ name: String, _ value: Tensor) -> Tensor)
        case none
    }
    let folderExport: FolderExport
    /// Whether a LoRA edit exports as a PEFT adapter, and whether PEFT stores its weights as
    /// (in, out) (`fan_in_fan_out`, GPT-2's Conv1D).
    public let peft: Bool
    public let peftFanInFanOut: Bool
    /// Whether `export --format gguf` writes it.
    public let ggufExport: Bool

    init(
        name: String, modelTypes: [String], ggufName: String? = nil,
        folderRecipe: ((HuggingFaceLoader.Folder) throws -> DecoderRecipe)?,
        ggufRecipe: ((GGUFFile, Tokenizer, String) throws -> DecoderRecipe)? = nil,
        folderExport: FolderExport = .likeSource({ _, t in t }), peft: Bool = true, peftFanInFanOut: Bool = false,
        ggufExport: Bool = false
    ) {
        (self.name, self.modelTypes, self.ggufName) = (name, modelTypes, ggufName)
        (self.folderRecipe, self.ggufRecipe, self.folderExport) = (folderRecipe, ggufRecipe, folderExport)
        (self.peft, self.peftFanInFanOut, self.ggufExport) = (peft, peftFanInFanOut, ggufExport)
    }

    /// Every model type canonedit reads, in the order error messages list them.
    public static let all: [Architecture] = [
        .llama, .gpt2, .gptNeoX, .gptJ, .qwen2, .mistral, .gemma3, .backpackGPT2, .backpackCompanion,
    ]

    /// The entry a `config.json` names, or an error listing every supported `model_type`.
    static func forModelType(_ type: String, architectures: [String], source: String) throws -> Architecture {
        guard let a = all.first(where: { $0.modelTypes.contains(type) }) else {
            let known = all.flatMap(\.modelTypes).joined(separator: ", ")
            throw formatError(
                source, "model_type \"\(type)\" (architectures \(architectures)) is not supported (\(known))")
        }
        return a
    }

    /// The entry a GGUF file's `general.architecture` names, or an error listing the ones read.
    static func forGGUF(_ arch: String, source: String) throws -> Architecture {
        guard let a = all.first(where: { $0.ggufName == arch && $0.ggufRecipe != nil }) else {
            let known = all.compactMap(\.ggufName).joined(separator: ", ")
            throw formatError(source, "general.architecture \"\(arch)\" is not supported in GGUF files (\(known))")
        }
        return a
    }

    /// The entry of a loaded decoder's architecture name.
    public static func named(_ name: String) -> Architecture? { all.first { $0.name == name } }

    /// The names of the entries with a property, for messages ("llama, gpt2, …").
    public static func names(where keep: (Architecture) -> Bool) -> String {
        all.filter(keep).map(\.name).joined(separator: ", ")
    }
}

extension Architecture {
    /// The GPT-2 Backpack (`stanfordnlp/backpack-gpt2`), read by its own loader.
    static let backpackGPT2 = Architecture(
        name: "backpack", modelTypes: ["backpack-gpt2", "backpack"], folderRecipe: nil, folderExport: .none,
        peft: false)
    /// A companion Backpack (companions/smollm2), read by its own loader before any weight file.
    static let backpackCompanion = Architecture(
        name: "backpack-companion", modelTypes: ["backpack-companion"], folderRecipe: nil, folderExport: .none,
        peft: false)
}
