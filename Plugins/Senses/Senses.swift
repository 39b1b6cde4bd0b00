// Senses: sense finetuning of a Backpack (paper §6, the authors' `sense_finetuning.py`). For each
// canonical example the senses whose contextualization weight on the target predictions most
// exceeds λ times their weight on background text are chosen; each chosen (token, sense) gets a
// zero-initialised trainable delta, and nothing else in the model changes.
import PluginAPI
import PluginKit

final class Senses {
    var delta: OpaquePointer?
    var adam = AdamSettings()
}

/// importance = g − λ·background over (token, sense) pairs; only pairs with g > 0 are eligible.
/// Returns the indices (v·k + ℓ) of the top `count` eligible pairs, best first.
func topSenses(g: [Float], background: [Float], lambda: Float, count: Int) -> [(index: Int, score: Float)] {
    var s = [Float](repeating: 0, count: g.count)
    var low = Float.infinity
    for i in 0..<g.count { s[i] = g[i] - lambda * background[i]; low = min(low, s[i]) }
    for i in 0..<g.count where g[i] <= 0 { s[i] = low - 1 }
    let order = s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }
    return order.prefix(count).map { ($0, s[$0]) }
}

private let descriptor = makeDescriptor(
    id: "senses", version: "1.0.0",
    description: "Sense finetuning: train zero-initialised deltas on a Backpack's most relevant sense vectors",
    capabilities: UInt64(CE_CAP_TRAINS) | UInt64(CE_CAP_BACKPACK_ONLY),
    hyperparameters: [
        hyperparameter(
            "background_data_path", CE_HP_STRING, defaultString: "", noSweep: true,
            help: "{\"text\"} JSONL whose average sense weights are subtracted (required)"),
        hyperparameter(
            "max_senses_per_example", CE_HP_INT, min: 1, max: 4096, default: 8, sweep: 5...11,
            help: "senses chosen per canonical example (the paper's k)"),
        hyperparameter(
            "max_senses_total", CE_HP_INT, min: 0, max: 1e7, default: 0, noSweep: true,
            help: "if > 0, keep only this many of the union, highest scores first"),
        hyperparameter(
            "regularization_lambda", CE_HP_FLOAT, min: 0, max: 1e9, default: 1000, sweep: 100...3162, logScale: true,
            help: "λ, the weight of the background sense weights"),
        hyperparameter(
            "background_smoothing", CE_HP_FLOAT, min: 0, max: 1e6, default: 0, noSweep: true,
            // 1 suits a small background sample.
            help: "s: background of (v, l) = bg_alpha[v,l] + s · v's mean predicted count on background text (0: off)"
        ),
        hyperparameter(
            "sense_method", CE_HP_STRING, defaultString: "alpha", noSweep: true,
            help: "importance method; alpha (the only one the authors implemented)"),
    ] + AdamSettings.schema,
    create: { hostPtr, out in
        Instance.create(hostPtr, out) { host in
            let s = Senses()
            s.adam = try AdamSettings(host)
            guard try host.string("sense_method") == "alpha" else {
                throw PluginError(
                    CE_ERR_UNSUPPORTED, "sense_method \(try host.string("sense_method")) is not implemented (alpha)")
            }
            return s
        }
    },
    prepare: { inst, hostPtr in
        Instance.run(inst, hostPtr, as: Senses.self) { me, host in
            guard let bp = host.extensionTable(CE_EXT_BACKPACK, as: ce_backpack_ext.self)?.pointee else {
                throw PluginError(CE_ERR_UNSUPPORTED, "sense finetuning needs a Backpack model")
            }
            let k = Int(bp.num_senses), V = Int(bp.vocab_size)
            let perExample = Int(try host.number("max_senses_per_example")),
                total = Int(try host.number("max_senses_total"))
            let lambda = Float(try host.number("regularization_lambda"))
            let bgPath = try host.string("background_data_path")
            if bgPath.isEmpty { throw PluginError(CE_ERR_INVALID_ARGUMENT, "senses.background_data_path is required") }
            // A(ids, rows): sense weights of one sequence, (V·k), added into `into`.
            func addWeights(_ ids: [Int32], _ rows: [Int64], _ into: inout [Float]) throws {
                guard !ids.isEmpty, !rows.isEmpty else { return }
                try into.withUnsafeMutableBufferPointer { out in
                    try host.call(
                        bp.add_sense_weights(
                            host.context, ids, Int64(ids.count), rows, Int64(rows.count), out.baseAddress),
                        "sense weights")
                }
            }
            // Background: the per-document sum over every predicting position, averaged over documents.
            let docs = try host.corpus(bgPath)
            var background = [Float](repeating: 0, count: V * k)
            for (i, d) in docs.enumerated() where d.count >= 2 {
                try addWeights(d, (0..<Int64(d.count - 1)).map { $0 }, &background)
                if i % 50 == 49 {
                    host.raw.pointee.progress(
                        host.context, Double(i + 1) / Double(docs.count), "background sense weights")
                }
            }
            for i in 0..<background.count { background[i] /= Float(max(docs.count, 1)) }
            // Smoothing: a small background sample leaves most words unseen, so their senses look
            // free to change; the model's own expected count of each word says how common it is.
            let smoothing = Float(try host.number("background_smoothing"))
            if smoothing > 0 {
                guard
                    Int(bp.struct_size) >= MemoryLayout<ce_backpack_ext>.offset(of: \.add_predicted_probabilities)!
                        + MemoryLayout<Int>.size,
                    let addProbabilities = bp.add_predicted_probabilities
                else {
                    throw PluginError(
                        CE_ERR_UNSUPPORTED,
                        "background_smoothing needs a host with ABI 1.1 (add_predicted_probabilities)")
                }
                var expected = [Float](repeating: 0, count: V)
                for (i, d) in docs.enumerated() where d.count >= 2 {
                    let rows = (0..<Int64(d.count - 1)).map { $0 }
                    try expected.withUnsafeMutableBufferPointer { out in
                        try host.call(
                            addProbabilities(host.context, d, Int64(d.count), rows, Int64(rows.count), out.baseAddress),
                            "predicted probabilities")
                    }
                    if i % 50 == 49 {
                        host.raw.pointee.progress(
                            host.context, Double(i + 1) / Double(docs.count), "background predictions")
                    }
                }
                for v in 0..<V {
                    let add = smoothing * expected[v] / Float(max(docs.count, 1))
                    for l in 0..<k { background[v * k + l] += add }
                }
            }
            // Per example: g from the target predictions, the top-k of g − λ·background, kept with score ≥ 0.01.
            let loss = host.taskLoss
            var target: [Int: Float] = [:]
            for e in 0..<host.exampleCount {
                guard let p = host.exampleTokens(e, CE_TEXT_PREFIX), let s1 = host.exampleTokens(e, CE_TEXT_SUFFIX)
                else { continue }
                func rows(_ s: [Int32]) -> [Int64] { (Int64(p.count - 1)..<Int64(p.count + s.count - 1)).map { $0 } }
                var g = [Float](repeating: 0, count: V * k)
                try addWeights(p + s1, rows(s1), &g)
                if loss == "balance" || loss == "good-v-bad", let s2 = host.exampleTokens(e, CE_TEXT_SUFFIX2) {
                    var g2 = [Float](repeating: 0, count: V * k)
                    try addWeights(p + s2, rows(s2), &g2)
                    for i in 0..<g.count { g[i] = loss == "balance" ? g[i] + g2[i] : g[i] - g2[i] }
                }
                for (index, score) in topSenses(g: g, background: background, lambda: lambda, count: perExample) {
                    target[index] = max(target[index] ?? 0, score, 0.01)
                }
            }
            var chosen = target.keys.sorted()
            if total > 0, chosen.count > total {
                chosen = Array(chosen.sorted { target[$0]! > target[$1]! }.prefix(total)).sorted()
            }
            if chosen.isEmpty { throw PluginError(CE_ERR_INVALID_ARGUMENT, "no senses were selected") }
            let tokens = chosen.map { Int32($0 / k) }, senses = chosen.map { Int32($0 % k) }
            var handle: OpaquePointer? = nil
            try host.call(
                bp.train_sense_deltas(host.context, tokens, senses, Int64(chosen.count), &handle), "train_sense_deltas")
            me.delta = handle
            host.log(
                "senses: \(chosen.count) (token, sense) pairs from \(host.exampleCount) examples, λ \(lambda), "
                    + "background of \(docs.count) documents, smoothing \(smoothing)"
            )
        }
    },
    update: { inst, hostPtr, info in
        Instance.run(inst, hostPtr, as: Senses.self) { me, host in
            try me.adam.step(host, [me.delta!], info: info)
        }
    },
    destroy: { Instance.release($0, as: Senses.self) },
    // Sense deltas belong to a Backpack, which has no memory plan; an edit changes no model tensor.
    describe: { _ in CE_OK },
    learningRateSweep: tenTo(-4)...tenTo(-1.5))  // the paper's range

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
