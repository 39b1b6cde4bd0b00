import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// One sequence's (ids, rows) arguments of a Backpack service, checked and converted; `body`
/// adds into the caller's `out`. Errors become the call's status and message.
private func sequenceCall(
    _ name: String, _ ctx: UnsafeMutableRawPointer?, _ ids: UnsafePointer<Int32>?, _ count: Int64,
    _ rows: UnsafePointer<Int64>?, _ rowCount: Int64, _ out: UnsafeMutablePointer<Float>?,
    _ body: (BackpackLM, EditSession, [Int32], [Int], UnsafeMutablePointer<Float>) throws -> Void
) -> ce_status {
    let b = bridge(ctx)
    guard let bp = b.session.model as? BackpackLM, let ids, let out, count > 0, rowCount >= 0,
        rowCount == 0 || rows != nil
    else {
        return b.fail(
            CE_ERR_INVALID_ARGUMENT,
            "\(name): model \(type(of: b.session.model)) ids \(ids != nil) out \(out != nil) count \(count) rows "
                + "\(rowCount) \(rows != nil)"
        )
    }
    do {
        try body(
            bp, b.session, Array(UnsafeBufferPointer(start: ids, count: Int(count))),
            (0..<Int(rowCount)).map { Int(rows![$0]) }, out)
        return CE_OK
    } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
}

/// The "canonedit.backpack/1" table over a BackpackLM.
func backpackExtension(_ bp: BackpackLM) -> ce_backpack_ext {
    var e = ce_backpack_ext()
    e.struct_size = UInt32(MemoryLayout<ce_backpack_ext>.size)
    e.num_senses = Int32(bp.numSenses)
    e.hidden_size = Int32(bp.C)
    e.vocab_size = Int32(bp.vocabSize)
    e.add_sense_weights = { ctx, ids, count, rows, rowCount, out in
        sequenceCall("add_sense_weights", ctx, ids, count, rows, rowCount, out) { bp, _, tokens, rows, out in
            try bp.addSenseWeights(tokens: tokens, rows: rows, into: out)
        }
    }
    e.sense_vectors = { ctx, tokens, count, out in
        let b = bridge(ctx)
        guard let bp = b.session.model as? BackpackLM, let tokens, let out, count >= 0 else {
            return CE_ERR_INVALID_ARGUMENT
        }
        do {
            let t = try bp.senses(of: Array(UnsafeBufferPointer(start: tokens, count: Int(count))))
            out.update(from: t.data, count: t.count)
            return CE_OK
        } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
    }
    e.train_sense_deltas = { ctx, tokens, senses, count, out in
        let b = bridge(ctx)
        guard let bp = b.session.model as? BackpackLM, let out, count > 0, let tokens, let senses else {
            return b.fail(
                CE_ERR_INVALID_ARGUMENT, "train_sense_deltas needs a Backpack and at least one (token, sense) pair")
        }
        guard bp.senseDeltas.delta == nil else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "sense deltas were already chosen in this run")
        }
        var pairs: [(token: Int32, sense: Int)] = []
        for i in 0..<Int(count) {
            guard tokens[i] >= 0, Int(tokens[i]) < bp.vocabSize, senses[i] >= 0, Int(senses[i]) < bp.numSenses else {
                return b.fail(
                    CE_ERR_INVALID_ARGUMENT, "pair \(i) (token \(tokens[i]), sense \(senses[i])) is out of range")
            }
            pairs.append((tokens[i], Int(senses[i])))
        }
        bp.senseDeltas.select(pairs, C: bp.C, name: b.session.stepName("backpack.sense_deltas"))
        b.session.train(bp.senseDeltas.delta!)
        out.pointee = b.handle(bp.senseDeltas.delta!)
        return CE_OK
    }
    e.add_predicted_probabilities = { ctx, ids, count, rows, rowCount, out in
        sequenceCall("add_predicted_probabilities", ctx, ids, count, rows, rowCount, out) {
            bp, session, tokens, rows, out in
            try session.withOriginalModel { try bp.addPredictedProbabilities(tokens: tokens, rows: rows, into: out) }
        }
    }
    return e
}
