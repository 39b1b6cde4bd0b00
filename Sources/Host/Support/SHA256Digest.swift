import Crypto
import Foundation

/// SHA-256 over bytes fed in pieces: the content hash of edit files, over their metadata and
/// every stored array. (Like any hash it detects corruption, not a forger: an edit file is as
/// trusted as a plugin.)
public struct SHA256Digest {
    var hasher = SHA256()

    public init() {}

    public mutating func add(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    public mutating func add(_ data: Data) { hasher.update(data: data) }

    /// Sixty-four lowercase hex digits.
    public var hex: String {
        let copy = hasher
        return copy.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The digest of one piece of data, as hex.
    public static func hex(of data: Data) -> String {
        var d = SHA256Digest()
        d.add(data)
        return d.hex
    }
}
