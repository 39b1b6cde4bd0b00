// The host services the locate-and-edit methods (MEMIT, ROME, AlphaEdit) share: activations,
// the MLP output projections, keys averaged over random prefixes, key statistics, LAPACK.
import PluginAPI
import PluginKit

/// The host with its activations and linear-algebra tables, for one closed-form edit.
public struct LocatingHost {
    public let host: Host
    public let act: ce_activations_ext
    public let lin: ce_linalg_ext
    public let hidden: Int

    public init(_ host: Host, method: String) throws {
        guard let act = host.extensionTable(CE_EXT_ACTIVATIONS, as: ce_activations_ext.self)?.pointee,
            let lin = host.extensionTable(CE_EXT_LINALG, as: ce_linalg_ext.self)?.pointee
        else {
            throw PluginError(
                CE_ERR_UNSUPPORTED, "\(method) needs the activations and linalg host extensions (a decoder model)")
        }
        self.host = host
        self.act = act
        self.lin = lin
        self.hidden = Int(try host.modelInfo().hidden_size)
    }

    var ctx: UnsafeMutableRawPointer? { host.context }

    /// The MLP output projection of layer l.
    public func mlpOutput(_ l: Int) throws -> String {
        for i in 0..<host.moduleCount where try host.matches(host.moduleName(i), layerMLPOutput(l)) {
            return host.moduleName(i)
        }
        throw PluginError(CE_ERR_NOT_FOUND, "no MLP output projection in layer \(l)")
    }

    /// The weight (C, F) of a module, marked as trained so that the edit stores it.
    public func trainedWeight(_ module: String) throws -> ce_tensor {
        var W: OpaquePointer? = nil
        try host.call(host.raw.pointee.param_find(ctx, module + ".weight", &W), "param_find")
        try host.train(W!)
        return try host.value(of: W!)
    }

    /// Random prefixes from the unedited model, like MEMIT's context templates: the empty prefix
    /// and `count` generated ones of `length` tokens starting with the first example's first token.
    public func contextTemplates(count: Int, length: Int) throws -> [[Int32]] {
        var templates: [[Int32]] = [[]]
        guard count > 0, let first = host.exampleTokens(0, CE_TEXT_PREFIX)?.first else { return templates }
        for t in 0..<count {
            var out = [Int32](repeating: 0, count: length), n: Int64 = 0
            try host.call(
                host.raw.pointee.generate(ctx, [first], 1, Int64(length - 1), 1.0, UInt64(1000 + t), &out, &n),
                "generate")
            templates.append([first] + out.prefix(Int(n)))
        }
        return templates
    }

    /// The residual stream leaving block `layer` at position p: (C).
    public func residual(_ ids: [Int32], at p: Int, layer: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: hidden)
        try host.call(act.residual(ctx, ids, Int64(ids.count), Int32(layer), [Int64(p)], 1, &out), "residual")
        return out
    }

    /// The inputs of `module` at each edit's subject, averaged over the templates: K (E, F).
    public func keys(_ module: String, features F: Int, edits: [EditTarget], templates: [[Int32]]) throws -> [Float] {
        var K = [Float](repeating: 0, count: edits.count * F)
        var row = [Float](repeating: 0, count: F)
        for (e, ed) in edits.enumerated() {
            for t in templates {
                let ids = t + ed.prefix
                try host.call(
                    act.module_inputs(ctx, ids, Int64(ids.count), module, [Int64(t.count + ed.subjectLast)], 1, &row),
                    "module_inputs")
                for j in 0..<F { K[e * F + j] += row[j] / Float(templates.count) }
            }
        }
        return K
    }

    /// What each edit still lacks at block `layer` (z minus the current residual), divided by
    /// `spread` (the layers left to share it) as R (E, C), and the whole distance to the targets.
    public func missing(_ edits: [EditTarget], layer: Int, spread: Int = 1) throws -> (R: [Float], distance: Double) {
        let C = hidden
        var R = [Float](repeating: 0, count: edits.count * C), sum = 0.0
        for (e, ed) in edits.enumerated() {
            let cur = try residual(ed.prefix, at: ed.subjectLast, layer: layer)
            for j in 0..<C {
                R[e * C + j] = (ed.z[j] - cur[j]) / Float(spread)
                sum += Double(ed.z[j] - cur[j]) * Double(ed.z[j] - cur[j])
            }
        }
        return (R, sum.squareRoot())
    }

    /// E[k kᵀ] of the module's inputs over a corpus, from the unedited model (cached by the host): (F, F).
    public func secondMoment(_ module: String, features F: Int, corpus: String, tokens: Int) throws -> [Float] {
        var A = [Float](repeating: 0, count: F * F)
        try host.call(act.input_second_moment(ctx, module, corpus, Int64(tokens), &A), "input_second_moment")
        return A
    }

    /// Solves A X = B, A (n, n) general; B (n, m) becomes X.
    public func solve(_ A: [Float], _ B: inout [Float], n: Int, m: Int) throws {
        guard lin.struct_size >= UInt32(MemoryLayout<ce_linalg_ext>.size), let solve = lin.solve else {
            throw PluginError(CE_ERR_UNSUPPORTED, "the host's linalg extension has no general solve (ABI < 1.4)")
        }
        try host.call(solve(ctx, A, &B, Int64(n), Int64(m)), "solve")
    }

    /// Eigenvalues ascending and eigenvectors as the columns of the returned (n, n) matrix.
    public func symmetricEigen(_ A: [Float], n: Int) throws -> (values: [Float], vectors: [Float]) {
        guard lin.struct_size >= UInt32(MemoryLayout<ce_linalg_ext>.size), let eigen = lin.symmetric_eigen else {
            throw PluginError(CE_ERR_UNSUPPORTED, "the host's linalg extension has no symmetric_eigen (ABI < 1.4)")
        }
        var vectors = A, values = [Float](repeating: 0, count: n)
        try host.call(eigen(ctx, &vectors, &values, Int64(n)), "symmetric_eigen")
        return (values, vectors)
    }
}
