/// SentencePiece's byte-fallback tokens "<0x00>" … "<0xFF>": a character the vocabulary lacks is
/// spelled as the tokens of its UTF-8 bytes, and decoding turns them back into bytes.
enum ByteFallback {
    /// The UTF-8 spelling of the token of each byte.
    static let spellings: [[UInt8]] = (0..<256).map { Array(String(format: "<0x%02X>", $0).utf8) }

    /// The byte a token such as "<0x41>" stands for, or nil for any other token.
    static func byte<S: StringProtocol>(_ token: S) -> UInt8? {
        guard token.utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(token.dropFirst(3).dropLast(), radix: 16)
    }
}
