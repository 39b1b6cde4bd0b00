import Foundation
import Support

/// Mistral settings, mirroring Hugging Face's `config.json` for `model_type: mistral`: the
/// Llama block with every layer attending within `sliding_window` positions (none when null).
public struct MistralConfig: Decodable {
    public var fields: LlamaVariantFields
    public var sliding_window: Int?

    enum Keys: String, CodingKey { case sliding_window }

    public init(from decoder: Decoder) throws {
        fields = try LlamaVariantFields(from: decoder)
        sliding_window = try decoder.container(keyedBy: Keys.self).decodeIfPresent(Int.self, forKey: .sliding_window)
    }

    public func spec(source: String) throws -> DecoderSpec {
        var spec = try fields.spec(architecture: "mistral", qkvBias: false, source: source)
        if let window = sliding_window {
            spec.slidingLayers = Array(repeating: true, count: fields.num_hidden_layers)
            spec.slidingWindow = window
        }
        return spec
    }
}

extension Architecture {
    /// Mistral: the Llama block and names with a sliding window, from a folder.
    static let mistral = Architecture(
        name: "mistral", modelTypes: ["mistral"],
        folderRecipe: { f in
            DecoderRecipe(
                spec: try f.decode(MistralConfig.self).spec(source: f.cfgPath), names: LlamaConfig.names,
                source: f.cfgPath
            ) { name, shape in try f.tensor(name, shape, prefixes: ["model."]) }
        })
}
