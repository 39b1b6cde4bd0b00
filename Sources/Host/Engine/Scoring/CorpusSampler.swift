import Foundation
import Support

/// A general-text corpus sampled from a model itself (temperature 1, fixed seed), for the
/// general-loss ball and the KL term when no corpus is given. Deterministic for a given
/// model, seed and sizes.
public enum CorpusSampler {
    public static func sample(
        _ lm: LoadedModel, documents: Int, tokens: Int, seed: UInt64, batch: Int = 16,
        prompt: String = "<|endoftext|>", progress: (String) -> Void = { _ in }
    ) throws -> [String] {
        let start = lm.tokenizer.startOfText(prompt)
        guard !start.isEmpty else { throw CanonEditError("the corpus prompt gives no tokens") }
        var texts: [String] = []
        var b = 0
        while texts.count < documents {
            let n = min(batch, documents - texts.count)
            let out = try Scoring.generateBatch(
                lm.model, prompts: Array(repeating: start, count: n), maxTokens: tokens,
                temperature: 1, seed: seed &+ UInt64(b))
            texts += out.map { lm.tokenizer.decode($0) }
            b += 1
            progress("sampled \(texts.count)/\(documents) documents")
        }
        return texts
    }

    public static func write(_ texts: [String], to path: String) throws {
        var data = Data()
        for t in texts {
            data +=
                try JSONSerialization.data(
                    withJSONObject: ["text": t], options: [.sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
        }
        try AtomicFile.write(data, to: path)
    }
}
