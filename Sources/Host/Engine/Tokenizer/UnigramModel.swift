import Foundation
import Support

/// A Unigram vocabulary (T5, ALBERT, XLNet-style `tokenizer.json`): each piece has a
/// log-probability, and a pre-token is cut into the pieces whose scores sum highest (Viterbi),
/// as the `tokenizers` library does: pieces tried by start position then length, a later
/// candidate replacing an earlier one only when strictly better; a character no piece starts
/// with becomes the unknown token at the lowest score minus 10; consecutive unknowns fuse;
/// with byte fallback an unknown becomes its `<0xXX>` byte tokens. Pieces are compared as
/// UTF-8 bytes.
public final class UnigramModel {
    let pieces: [[UInt8]: (id: Int32, score: Double)]
    let longest: Int  // characters in the longest piece
    let unknown: Int32
    let unknownScore: Double
    let byteIds: [Int32]
    let byteFallback: Bool

    public init(vocab: [(String, Double)], unknown: Int32, byteFallback: Bool) {
        var pieces: [[UInt8]: (Int32, Double)] = [:]
        for (i, (p, score)) in vocab.enumerated() where pieces[Array(p.utf8)] == nil {
            pieces[Array(p.utf8)] = (Int32(i), score)
        }
        self.pieces = pieces.mapValues { (id: $0.0, score: $0.1) }
        longest = vocab.map { $0.0.unicodeScalars.count }.max() ?? 1
        self.unknown = unknown
        unknownScore = (vocab.map(\.1).min() ?? 0) - 10
        byteIds = ByteFallback.spellings.map { pieces[$0]?.0 ?? -1 }
        self.byteFallback = byteFallback
    }

    public func encode(_ text: String) -> [Int32] {
        let chars = text.unicodeScalars.map { Array(String($0).utf8) }
        let n = chars.count
        if n == 0 { return [] }
        // best[e]: the best score of text[0..<e], the start of its last piece, and that piece (-1: unknown).
        var best = [(score: Double, start: Int, id: Int32)?](repeating: nil, count: n + 1)
        best[0] = (0, 0, -1)
        for s in 0..<n {
            guard let here = best[s] else { continue }
            var bytes: [UInt8] = []
            var single = false
            for e in (s + 1)...min(n, s + longest) {
                bytes += chars[e - 1]
                guard let piece = pieces[bytes] else { continue }
                if e == s + 1 { single = true }
                let candidate = here.score + piece.score
                if best[e] == nil || candidate > best[e]!.score { best[e] = (candidate, s, piece.id) }
            }
            if !single {
                let candidate = here.score + unknownScore
                if best[s + 1] == nil || candidate > best[s + 1]!.score { best[s + 1] = (candidate, s, -1) }
            }
        }
        var path: [(start: Int, end: Int, id: Int32)] = []
        var e = n
        while e > 0, let b = best[e] {
            path.append((b.start, e, b.id))
            e = b.start
        }
        var out: [Int32] = []
        var previousUnknown = false
        for step in path.reversed() {
            guard step.id < 0 else { out.append(step.id); previousUnknown = false; continue }
            let bytes = chars[step.start..<step.end].flatMap { $0 }
            if byteFallback, bytes.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                out += bytes.map { byteIds[Int($0)] }
                previousUnknown = false
            } else if !previousUnknown {
                out.append(unknown)
                previousUnknown = true
            }
        }
        return out
    }
}
