import Foundation
import Support

/// A content fingerprint of a model: architecture, sizes and a hash of embedding values, so an
/// edit is applied only to the weights it was made for, wherever the file lives.
public enum ModelIdentity {
    public static func of(_ m: CausalLM) -> String {
        var h = FNV1a()
        for b in m.architecture.utf8 { h.add(word: UInt64(b)) }
        h.add(word: UInt64(m.vocabSize))
        h.add(word: UInt64(m.layerCount))
        h.add(word: UInt64(m.parameterCount))
        if let e = m.parameters.first {
            let values = e.value.leadingValues(1 << 16)
            for i in stride(from: 0, to: values.count, by: 7) { h.add(word: UInt64(values[i].bitPattern)) }
        }
        return h.hex
    }
}
