import Foundation
import Support

/// A token sequence and the positions of it whose next-token NLL counts: for a suffix
/// example, ids = tok(prefix) ++ tok(suffix) and rows P−1 … P+S−2; for a whole text, every
/// position that has a next token (the authors' `utils.py:score_suffix`).
public struct ScoredSequence {
    public var ids: [Int32]
    public var rows: Range<Int>
    /// The prompt's last position (the hooks' query), -1 for a whole text.
    public var query = -1

    public static func suffix(prefix: [Int32], suffix: [Int32]) -> ScoredSequence {
        ScoredSequence(
            ids: prefix + suffix, rows: max(prefix.count - 1, 0)..<(prefix.count + suffix.count - 1),
            query: prefix.count - 1)
    }

    public static func text(_ ids: [Int32]) -> ScoredSequence {
        ScoredSequence(ids: ids, rows: 0..<max(ids.count - 1, 0))
    }
}

/// Runs many sequences through a model without gradients, batched by length: sequences are
/// sorted by length and packed into right-padded batches of at most `tokenBudget` tokens.
public enum SequenceScorer {
    public static var tokenBudget = 2048

    /// Per-position NLLs of each sequence's scored rows, in input order. With a cache, each
    /// batch's residual stream at the model's frozen layer is saved on the first call and later
    /// calls start there, skipping the layers an edit cannot change.
    /// A sequence longer than the model's context is scored in windows of the context length
    /// (each window's first token is conditioned on nothing before it).
    public static func nll(_ model: CausalLM, _ seqs: [ScoredSequence], cache: PrefixCache? = nil) throws -> [[Float]] {
        try score(model, seqs, cache: cache).nll
    }

    /// The NLLs, and for each scored row whether its next token is the model's most likely one
    /// (what greedy decoding emits), from the same pass.
    public static func score(
        _ model: CausalLM, _ seqs: [ScoredSequence], cache: PrefixCache? = nil
    ) throws -> (nll: [[Float]], isArgmax: [[Bool]]) {
        let ctx = model.contextLength
        guard seqs.contains(where: { $0.ids.count > ctx }) else { return try nllFitting(model, seqs, cache: cache) }
        var pieces: [ScoredSequence] = [], owner: [Int] = []
        for (i, s) in seqs.enumerated() {
            if s.ids.count <= ctx { pieces.append(s); owner.append(i); continue }
            // Windows overlap by one token so every row is scored exactly once.
            for start in stride(from: 0, to: s.ids.count - 1, by: ctx - 1) {
                let end = min(s.ids.count, start + ctx)
                let lo = max(s.rows.lowerBound, start), hi = min(s.rows.upperBound, end - 1)
                guard lo < hi else { continue }
                let query = s.query >= start && s.query < end ? s.query - start : -1
                pieces.append(
                    ScoredSequence(ids: Array(s.ids[start..<end]), rows: (lo - start)..<(hi - start), query: query))
                owner.append(i)
            }
        }
        let scored = try nllFitting(model, pieces, cache: cache)
        var out = [[Float]](repeating: [], count: seqs.count), flags = [[Bool]](repeating: [], count: seqs.count)
        for (k, i) in owner.enumerated() {
            out[i] += scored.nll[k]
            flags[i] += scored.isArgmax[k]
        }
        return (out, flags)
    }

    static func nllFitting(
        _ model: CausalLM, _ seqs: [ScoredSequence], cache: PrefixCache?
    ) throws -> (nll: [[Float]], isArgmax: [[Bool]]) {
        var out = [[Float]](repeating: [], count: seqs.count), flags = [[Bool]](repeating: [], count: seqs.count)
        let scored = seqs.indices.filter { !seqs[$0].rows.isEmpty }
        for (batchIndex, b) in batches(scored.map { seqs[$0].ids.count }).enumerated() {
            let batch = b.map { scored[$0] }
            let T = seqs[batch.last!].ids.count
            guard T <= model.contextLength else {
                throw CanonEditError(
                    "a sequence of \(T) tokens is longer than the model's context of \(model.contextLength)")
            }
            let tokens = rightPadded(batch.map { seqs[$0].ids }).tokens
            var rows: [Int] = [], targets: [Int32] = []
            for (b, s) in batch.enumerated() {
                let q = seqs[s]
                for r in q.rows { rows.append(b * T + r); targets.append(q.ids[r + 1]) }
            }
            let head = TokenNLL(rows: rows, targets: targets)
            let hooks = cache?.hooks(batch: batchIndex, model: model) ?? RunHooks()
            hooks.layout = RowLayout(lengths: batch.map { seqs[$0].ids.count }, queries: batch.map { seqs[$0].query })
            try model.run(tokens: tokens, B: batch.count, T: T, head: head, train: false, hooks: hooks)
            if let saved = hooks.saved { cache?.store(batchIndex, saved) }
            var k = 0
            for s in batch {
                let n = seqs[s].rows.count
                out[s] = Array(head.nll[k..<(k + n)])
                flags[s] = Array(head.isArgmax[k..<(k + n)])
                k += n
            }
        }
        return (out, flags)
    }

    /// Sequences right-padded with id 0 (which a causal model's real positions never see) into
    /// one (B, T) batch, T the longest.
    public static func rightPadded(_ seqs: [[Int32]]) -> (tokens: [Int32], T: Int) {
        let T = seqs.map(\.count).max() ?? 0
        var tokens = [Int32](repeating: 0, count: seqs.count * T)
        for (b, s) in seqs.enumerated() { for (t, id) in s.enumerated() { tokens[b * T + t] = id } }
        return (tokens, T)
    }

    /// Sequences of these lengths in the batches they are scored in: sorted by length and
    /// packed while (rows × the longest) stays within `tokenBudget`; the longest comes last, so a
    /// batch's T is its last sequence's length. Indices into `lengths`.
    public static func batches(_ lengths: [Int]) -> [[Int]] {
        let order = lengths.indices.sorted { lengths[$0] < lengths[$1] }
        var out: [[Int]] = [], i = 0
        while i < order.count {
            var j = i + 1
            while j < order.count, (j - i + 1) * lengths[order[j]] <= tokenBudget { j += 1 }
            out.append(Array(order[i..<j]))
            i = j
        }
        return out
    }
}

/// Residual states of an evaluation set's batches at the layer below which nothing trains.
/// Valid while that layer stays the same; dropped when it changes. Bounded in memory.
public final class PrefixCache {
    public static var budgetBytes = 1 << 30
    private(set) var layer = -1
    private var states: [Int: ResidualState] = [:]
    private var bytes = 0
    public private(set) var hits = 0

    public init() {}

    func hooks(batch: Int, model: CausalLM) -> RunHooks? {
        let frozen = model.frozenPrefixLayers
        guard frozen > 0 else { return nil }
        if frozen != layer { states.removeAll(); bytes = 0; layer = frozen }
        if let s = states[batch] { hits += 1; return RunHooks(resume: s) }
        return bytes < Self.budgetBytes ? RunHooks(saveAt: frozen) : nil
    }

    func store(_ batch: Int, _ s: ResidualState) {
        states[batch] = s
        bytes += s.x.count * 4
    }
}
