import Foundation

/// The 64-bit FNV-1a hash: the one content fingerprint of edits, caches, model identities and
/// run configs. Not a cryptographic hash: it detects corruption, not tampering.
public struct FNV1a {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
    }

    /// Mixes one 64-bit word as a single step (how model identities mix sizes and values).
    public mutating func add(word: UInt64) { value = (value ^ word) &* 0x100_0000_01b3 }

    /// Sixteen lowercase hex digits.
    public var hex: String { String(format: "%016llx", value) }

    public static func hex<S: Sequence>(of bytes: S) -> String where S.Element == UInt8 {
        var h = FNV1a()
        h.add(bytes: bytes)
        return h.hex
    }
}
