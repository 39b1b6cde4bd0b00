import Foundation
import Support

/// A method's opaque state as text in safetensors metadata: a JSON object of base64 values.
enum MethodStateText {
    static func encode(_ state: [String: Data]) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(state.mapValues { $0.base64EncodedString() }), as: UTF8.self)
    }

    static func decode(_ text: String, source: String) throws -> [String: Data] {
        guard let map = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else {
            throw CanonEditError("\(source): the method state is not a JSON object of strings (corrupt?)")
        }
        return try map.mapValues {
            guard let d = Data(base64Encoded: $0) else {
                throw CanonEditError("\(source): a method state value is not base64 (corrupt?)")
            }
            return d
        }
    }
}
