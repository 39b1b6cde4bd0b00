import Foundation
import Support

/// Model-agnostic questions asked of a causal LM: log-probabilities of continuations,
/// per-token NLL of a text, next-token logits, and generation.
public enum Scoring {
    /// Summed log p(suffix | prefix) with the two id lists simply concatenated (no BOS).
    public static func suffixLogProb(
        _ model: CausalLM, prefix: [Int32], suffix: [Int32]
    ) throws -> (sum: Double, perToken: [Float]) {
        guard !prefix.isEmpty, !suffix.isEmpty else { throw CanonEditError("prefix and suffix must both be non-empty") }
        let ids = prefix + suffix
        let rows = Array((prefix.count - 1)..<(ids.count - 1))
        let head = TokenNLL(rows: rows, targets: rows.map { ids[$0 + 1] })
        let layout = RowLayout(lengths: [ids.count], queries: [prefix.count - 1])
        try model.run(tokens: ids, B: 1, T: ids.count, head: head, train: false, hooks: RunHooks(layout: layout))
        let lp = head.nll.map { -$0 }
        return (lp.reduce(0.0) { $0 + Double($1) }, lp)
    }

    /// Per-token NLL of every token after the first. Texts longer than the context are scored
    /// in windows of the context length (SequenceScorer).
    public static func tokenNLL(_ model: CausalLM, ids: [Int32]) throws -> [Float] {
        try SequenceScorer.nll(model, [.text(ids)])[0]
    }

    /// Logits (V) at the last position.
    public static func lastLogits(_ model: CausalLM, ids: [Int32]) throws -> [Float] {
        let head = LogitRows(rows: [ids.count - 1])
        // The whole sequence is a prompt: its last token is the query.
        let layout = RowLayout(lengths: [ids.count], queries: [ids.count - 1])
        try model.run(tokens: ids, B: 1, T: ids.count, head: head, train: false, hooks: RunHooks(layout: layout))
        return Array(head.row(0))
    }

    /// The greedy next token after each prompt (its last `contextLength` tokens). Prompts are
    /// batched by length as SequenceScorer batches texts: one pass per batch, not per prompt.
    public static func nextTokens(_ model: CausalLM, prompts: [[Int32]]) throws -> [Int32] {
        let ps = prompts.map { Array($0.suffix(model.contextLength)) }
        guard ps.allSatisfy({ !$0.isEmpty }) else { throw CanonEditError("next token of an empty prompt") }
        var out = [Int32](repeating: -1, count: ps.count)
        for batch in SequenceScorer.batches(ps.map(\.count)) {
            let (tokens, T) = SequenceScorer.rightPadded(batch.map { ps[$0] })
            let last = batch.map { ps[$0].count - 1 }
            let head = LogitRows(rows: last.enumerated().map { $0.offset * T + $0.element })
            let layout = RowLayout(lengths: batch.map { ps[$0].count }, queries: last)
            try model.run(
                tokens: tokens, B: batch.count, T: T, head: head, train: false, hooks: RunHooks(layout: layout))
            for (k, i) in batch.enumerated() { out[i] = argmax(Array(head.row(k))) }
        }
        return out
    }

    /// Greedy (temperature 0) or sampled continuation of `prompt`.
    public static func generate(
        _ model: CausalLM, prompt: [Int32], maxTokens: Int, temperature: Double = 0,
        seed: UInt64 = 0, stop: Set<Int32> = []
    ) throws -> [Int32] {
        try generateBatch(
            model, prompts: [prompt], maxTokens: maxTokens, temperature: temperature, seed: seed, stop: stop)[0]
    }

    /// Continues B prompts of equal length together. Models with a key/value cache decode
    /// one token per step; others rerun the whole sequence. A sequence stops at a `stop` id.
    public static func generateBatch(
        _ model: CausalLM, prompts: [[Int32]], maxTokens: Int, temperature: Double = 0,
        seed: UInt64 = 0, stop: Set<Int32> = []
    ) throws -> [[Int32]] {
        let B = prompts.count, P = prompts[0].count
        guard P > 0, prompts.allSatisfy({ $0.count == P }) else {
            throw CanonEditError("generation needs non-empty prompts of equal length")
        }
        let steps = min(maxTokens, model.contextLength - P)
        var rng = SeededRandom(seed: seed)
        var out = [[Int32]](repeating: [], count: B)
        var done = [Bool](repeating: false, count: B)
        func pick(_ logits: ArraySlice<Float>) -> Int32 {
            temperature <= 0 ? argmax(Array(logits)) : sample(Array(logits), temperature: temperature, rng: &rng)
        }
        if let llama = model as? DecoderLM {
            let cache = llama.makeCache(B: B, maxT: P + steps)
            cache.queries = [Int](repeating: P - 1, count: B)
            var logits = Tensor([0])
            for t in 0..<P { logits = try llama.decode(prompts.map { $0[t] }, cache: cache) }
            let V = model.vocabSize
            for _ in 0..<steps {
                var next = [Int32](repeating: 0, count: B)
                for b in 0..<B where !done[b] {
                    next[b] = pick(ArraySlice(logits.buffer[(b * V)..<((b + 1) * V)]))
                    out[b].append(next[b])
                    if stop.contains(next[b]) { done[b] = true }
                }
                if done.allSatisfy({ $0 }) || out.allSatisfy({ $0.count >= steps }) { break }
                logits = try llama.decode(next, cache: cache)
            }
            return out
        }
        for b in 0..<B {
            var ids = prompts[b]
            for _ in 0..<steps {
                let next = pick(try lastLogits(model, ids: ids)[...])
                out[b].append(next)
                ids.append(next)
                if stop.contains(next) { break }
            }
        }
        return out
    }

    public static func argmax(_ x: [Float]) -> Int32 {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return Int32(best)
    }

    public static func sample(_ logits: [Float], temperature: Double, rng: inout SeededRandom) -> Int32 {
        let m = logits.max() ?? 0
        var p = logits.map { Foundation.exp(Double($0 - m) / temperature) }
        let total = p.reduce(0, +)
        var u = rng.nextDouble() * total
        for i in 0..<p.count {
            u -= p[i]
            if u <= 0 { return Int32(i) }
        }
        p.removeAll()
        return Int32(logits.count - 1)
    }

    /// Indices and log-probabilities of the k most likely next tokens.
    public static func topK(_ logits: [Float], k: Int) -> [(id: Int32, logProb: Double)] {
        let m = Double(logits.max() ?? 0)
        let lse = m + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
        let idx = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(k)
        return idx.map { (Int32($0), Double(logits[$0]) - lse) }
    }
}
