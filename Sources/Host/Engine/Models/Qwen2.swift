import Foundation
import Support

/// Qwen 2 / 2.5 settings, mirroring Hugging Face's `config.json` for `model_type: qwen2`: the
/// Llama block with biases on the q, k and v projections (not on o), usually an untied head.
public struct Qwen2Config: Decodable {
    public var fields: LlamaVariantFields
    public var use_sliding_window: Bool?

    enum Keys: String, CodingKey { case use_sliding_window }

    public init(from decoder: Decoder) throws {
        fields = try LlamaVariantFields(from: decoder)
        use_sliding_window = try decoder.container(keyedBy: Keys.self).decodeIfPresent(
            Bool.self, forKey: .use_sliding_window)
    }

    public func spec(source: String) throws -> DecoderSpec {
        guard use_sliding_window != true else {
            throw CanonEditError("\(source): use_sliding_window is true; canonedit's Qwen 2 attends to every position")
        }
        return try fields.spec(architecture: "qwen2", qkvBias: true, source: source)
    }
}
