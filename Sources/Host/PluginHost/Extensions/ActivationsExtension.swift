import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// The "canonedit.activations/1" table: module inputs, residual states, key statistics, a
/// trainable residual-stream vector and sequence losses, over a decoder.
func activationsExtension() -> ce_activations_ext {
    var e = ce_activations_ext()
    e.struct_size = UInt32(MemoryLayout<ce_activations_ext>.size)
    installActivationReads(&e)
    installActivationEdits(&e)
    return e
}

/// Reading a decoder's insides: module inputs, residual states and key statistics.
private func installActivationReads(_ e: inout ce_activations_ext) {
    e.module_inputs = { ctx, ids, n, module, positions, count, out in
        let b = bridge(ctx)
        guard let ids = b.tokens(ids, n), let module, let positions, let out, count > 0 else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "module_inputs: missing arguments")
        }
        let name = String(cString: module)
        guard let lin = b.session.model.linears.first(where: { $0.name == name }) else {
            return b.fail(CE_ERR_NOT_FOUND, "no linear module \(name)")
        }
        let pos = (0..<Int(count)).map { Int(positions[$0]) }
        guard pos.allSatisfy({ $0 >= 0 && $0 < ids.count }) else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "a position is outside the sequence")
        }
        let d = lin.inFeatures
        lin.slot.capture = { x, _ in for (k, p) in pos.enumerated() { (out + k * d).update(from: x + p * d, count: d) }
        }
        defer { lin.slot.capture = nil }
        do {
            try b.session.model.run(
                tokens: ids, B: 1, T: ids.count, head: TokenNLL(rows: [], targets: []), train: false)
        } catch {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)")
        }
        return CE_OK
    }
    e.residual = { ctx, ids, n, layer, positions, count, out in
        let b = bridge(ctx)
        guard let ids = b.tokens(ids, n), let positions, let out, count > 0 else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "residual: missing arguments")
        }
        let m = b.session.model
        guard layer >= 0, Int(layer) < m.layerCount else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "layer \(layer) is outside 0..<\(m.layerCount)")
        }
        let hooks = RunHooks(saveAt: Int(layer) + 1)
        do {
            try m.run(
                tokens: ids, B: 1, T: ids.count, head: TokenNLL(rows: [], targets: []), train: false, hooks: hooks)
        } catch {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)")
        }
        guard let x = hooks.saved?.x else {
            return b.fail(CE_ERR_UNSUPPORTED, "this model does not expose its residual stream")
        }
        let C = x.cols
        for k in 0..<Int(count) {
            let p = Int(positions[k])
            guard p >= 0, p < ids.count else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "position \(p) is outside the sequence")
            }
            (out + k * C).update(from: x.data + p * C, count: C)
        }
        return CE_OK
    }
    e.input_second_moment = { ctx, module, corpus, tokens, out in
        let b = bridge(ctx)
        guard let module, let corpus, let out, tokens > 0 else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "input_second_moment: missing arguments")
        }
        do {
            let path = String(cString: corpus)
            let docs = try b.corpus(path).map { Array($0) }
            let resolved = b.session.resolvePath(path)
            let corpusID = SHA256Digest.hex(of: (try? Data(contentsOf: URL(fileURLWithPath: resolved))) ?? Data())
            let modelSHA256 = b.session.modelPath.flatMap { try? ModelDigest.cachedSHA256($0) }
            let m = try b.session.withOriginalModel {
                try SecondMoment.compute(
                    model: b.session.model, module: String(cString: module), docs: docs, corpusID: corpusID,
                    tokens: Int(tokens), modelSHA256: modelSHA256, progress: b.transient ?? b.log)
            }
            out.update(from: m.data, count: m.count)
            return CE_OK
        } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
    }
}

/// Editing through the residual stream and the sequence losses a method trains on.
private func installActivationEdits(_ e: inout ce_activations_ext) {
    e.residual_delta = { ctx, layer, out in
        let b = bridge(ctx)
        guard let m = b.decoder(), let out else {
            return b.fail(CE_ERR_UNSUPPORTED, "residual deltas need a decoder model")
        }
        guard m.residualDelta == nil else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "a residual delta already exists in this run")
        }
        guard layer >= 0, Int(layer) < m.layerCount else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "layer \(layer) is outside 0..<\(m.layerCount)")
        }
        let rd = ResidualDelta(layer: Int(layer), C: m.spec.C)
        m.residualDelta = rd
        b.session.train(rd.value)
        out.pointee = b.handle(rd.value)
        return CE_OK
    }
    e.residual_delta_at = { ctx, position in
        let b = bridge(ctx)
        guard let rd = b.decoder()?.residualDelta else { return b.fail(CE_ERR_INVALID_ARGUMENT, "no residual delta") }
        rd.position = Int(position)
        return CE_OK
    }
    e.sequence_loss = { ctx, ids, n, rows, targets, weights, count, grad, loss in
        let b = bridge(ctx)
        guard let ids = b.tokens(ids, n), let rows, let targets, let loss, count >= 0 else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "sequence_loss: missing arguments")
        }
        let r = (0..<Int(count)).map { Int(rows[$0]) }
        guard r.allSatisfy({ $0 >= 0 && $0 < ids.count }) else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "a row is outside the sequence")
        }
        let head = TokenNLL(
            rows: r, targets: (0..<Int(count)).map { targets[$0] },
            weights: weights.map { w in (0..<Int(count)).map { w[$0] } })
        do { try b.session.model.run(tokens: ids, B: 1, T: ids.count, head: head, train: grad != 0) } catch {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)")
        }
        loss.pointee = head.loss
        return CE_OK
    }
    e.sequence_kl = { ctx, ids, n, rows, count, weight, grad, loss in
        let b = bridge(ctx)
        guard let ids = b.tokens(ids, n), let rows, let loss, count > 0 else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "sequence_kl: missing arguments")
        }
        let r = (0..<Int(count)).map { Int(rows[$0]) }
        let m = b.session.model
        do {
            let ref = LogSoftmaxRows(rows: r, V: m.vocabSize)
            try b.session.withOriginalModel { try m.run(tokens: ids, B: 1, T: ids.count, head: ref, train: false) }
            let head = KLObjective(reference: ref.out, weight: weight, rows: r)
            try m.run(tokens: ids, B: 1, T: ids.count, head: head, train: grad != 0)
            loss.pointee = head.loss
            return CE_OK
        } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
    }
    e.zero_grads = { ctx in
        bridge(ctx).session.zeroGrads(); return CE_OK
    }
}
