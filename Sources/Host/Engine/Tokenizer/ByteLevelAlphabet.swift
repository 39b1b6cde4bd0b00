import Foundation
import Support

/// GPT-2's reversible map from bytes to printable Unicode characters, used by every byte-level
/// BPE vocabulary: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100….
enum ByteLevelAlphabet {
    static let byteToScalar: [Unicode.Scalar] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var map = [Unicode.Scalar](repeating: " ", count: 256)
        for b in printable { map[b] = Unicode.Scalar(UInt32(b))! }
        var next: UInt32 = 256
        for b in 0..<256 where !printable.contains(b) {
            map[b] = Unicode.Scalar(next)!
            next += 1
            printable.append(b)
        }
        return map
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var inv: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { inv[s.value] = UInt8(b) }
        return inv
    }()

    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// The bytes a vocabulary entry stands for; nil if it holds a character outside the alphabet.
    static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            guard let b = scalarToByte[s.value] else { return nil }
            out.append(b)
        }
        return out
    }
}
