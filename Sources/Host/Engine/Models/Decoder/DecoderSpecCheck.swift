import Foundation
import Support

extension DecoderSpec {
    /// The largest tensor canonedit agrees to plan for: 2^40 elements (4 TiB of fp32).
    static let maxElements = 1 << 40

    /// Refuses sizes no model has before anything divides by them, ranges over them or
    /// multiplies them (a crafted config.json or GGUF header must end in an error naming the
    /// file and field, not a trap): every size at least 1, heads that group, and every weight
    /// and activation row count within `maxElements`.
    func check(source: String) throws {
        let sizes: [(String, Int)] = [
            ("hidden size", C), ("attention heads", H), ("key/value heads", G), ("head dimension", D),
            ("feed-forward size", F), ("layers", L), ("vocabulary size", V), ("context length", context),
        ]
        for (what, n) in sizes where !(1...(1 << 31)).contains(n) {
            throw formatError(source, "\(what) is \(n); it must be 1…2^31")
        }
        guard H % G == 0 else {
            throw formatError(source, "\(H) attention heads do not group into \(G) key/value heads")
        }
        let products: [(String, [Int])] = [
            ("the embedding (vocabulary × hidden)", [V, C]), ("one MLP matrix (feed-forward × hidden)", [F, C]),
            ("one attention projection (heads × head dimension × hidden)", [H, D, C]),
            ("all blocks' MLPs (layers × feed-forward × hidden)", [L, F, C]),
        ]
        for (what, factors) in products {
            var n = 1
            for f in factors {
                let (p, overflow) = n.multipliedReportingOverflow(by: f)
                guard !overflow, p <= Self.maxElements else {
                    throw formatError(source, "\(what) would hold more than 2^40 elements (\(factors))")
                }
                n = p
            }
        }
        guard normEps.isFinite, normEps > 0 else {
            throw formatError(source, "normalisation epsilon \(normEps) must be a small positive number")
        }
        guard rotaryDims == 0 || (rotaryBase.isFinite && rotaryBase > 0) else {
            throw formatError(source, "rotary base \(rotaryBase) must be a positive number")
        }
    }
}
