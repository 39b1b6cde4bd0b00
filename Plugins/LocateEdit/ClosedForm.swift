// The closed forms of the locate-and-edit methods, as plain functions of row-major matrices so
// that tests can check them on worked cases without a model. Keys are rows: K (E, F) holds E
// keys of F features; a weight W (C, F) maps a key to a C-wide output.

/// A (m, n) = X (m, k) · Y (k, n), or with X given transposed as (k, m).
public func matmul(_ X: [Float], _ Y: [Float], m: Int, k: Int, n: Int, transposeX: Bool = false) -> [Float] {
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for p in 0..<k {
            let x = transposeX ? X[p * m + i] : X[i * k + p]
            if x == 0 { continue }
            for j in 0..<n { out[i * n + j] += x * Y[p * n + j] }
        }
    }
    return out
}

/// A solver of A X = B for square A (n, n); B (n, m) becomes X.
public typealias Solver = (_ A: [Float], _ B: inout [Float], _ n: Int, _ m: Int) throws -> Void

/// The null space AlphaEdit projects onto: the eigenvectors of the preserved keys' second
/// moment whose eigenvalues are below `threshold` (the paper's absolute threshold), as the
/// columns of U0 (F, r). P = U0 U0ᵀ is never formed: it is applied as U0 (U0ᵀ x).
public struct NullSpace {
    public let basis: [Float]  // U0 (F, r)
    public let features: Int
    public let rank: Int

    /// From an eigen-decomposition: values ascending, vectors as the columns of (F, F).
    public init(values: [Float], vectors: [Float], features F: Int, threshold: Float) {
        let kept = (0..<F).filter { values[$0] < threshold }
        var U = [Float](repeating: 0, count: F * kept.count)
        for i in 0..<F { for (c, j) in kept.enumerated() { U[i * kept.count + c] = vectors[i * F + j] } }
        basis = U
        features = F
        rank = kept.count
    }

    /// P X for X (F, n).
    public func project(_ X: [Float], columns n: Int) -> [Float] {
        let inner = matmul(basis, X, m: rank, k: features, n: n, transposeX: true)  // U0ᵀ X (r, n)
        return matmul(basis, inner, m: features, k: rank, n: n)
    }
}

/// AlphaEdit's update of one layer (Fang et al. 2025, eq. 14 as their code solves it):
/// ΔWᵀ = (P (Kᵀ K + Kpᵀ Kp) + l2 I)⁻¹ P Kᵀ R, where K (E, F) are this edit's keys, R (E, C) the
/// residuals to write, Kp (Ep, F) the keys of earlier edits and P the null-space projector of
/// the preserved keys. ΔWᵀ lies in P's range, so ΔW k = 0 for every preserved key k. Returns ΔW (C, F).
public func alphaEditUpdate(
    keys K: [Float], residuals R: [Float], earlier Kp: [Float], nullSpace: NullSpace, l2: Float, edits E: Int,
    earlierEdits Ep: Int, outputs C: Int, solve: Solver
) throws -> [Float] {
    let F = nullSpace.features
    let G = K + Kp  // all keys (E + Ep, F)
    let PGt = nullSpace.project(transpose(G, rows: E + Ep, columns: F), columns: E + Ep)  // (F, E + Ep)
    var A = matmul(PGt, G, m: F, k: E + Ep, n: F)
    for i in 0..<F { A[i * F + i] += l2 }
    let PKt = nullSpace.project(transpose(K, rows: E, columns: F), columns: E)  // (F, E)
    var X = matmul(PKt, R, m: F, k: E, n: C)  // (F, C)
    try solve(A, &X, F, C)
    // X lies in P's range in exact arithmetic; a small l2 amplifies the solve's rounding outside
    // it, so project once more: preserved keys then stay put to float precision.
    return transpose(nullSpace.project(X, columns: C), rows: F, columns: C)
}

/// ROME's rank-one update (Meng et al. 2022, eq. 2): with u = C⁻¹ k̄ (k̄ the key averaged over
/// random prefixes, C the keys' second moment) scaled to unit length, k the key of the prompt
/// itself and r = v* − W k the output still missing there, ΔW = r uᵀ / (uᵀ k), so that
/// (W + ΔW) k = v* exactly and keys C-orthogonal to k̄ are untouched. Returns ΔW (C, F).
public func romeUpdate(direction u: [Float], key k: [Float], missing r: [Float]) -> [Float] {
    let norm = u.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let unit = u.map { Float(Double($0) / norm) }
    let uk = zip(unit, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let F = u.count
    var dW = [Float](repeating: 0, count: r.count * F)
    for c in 0..<r.count {
        let s = Double(r[c]) / uk
        for j in 0..<F { dW[c * F + j] = Float(s * Double(unit[j])) }
    }
    return dW
}

/// Xᵀ for X (rows, columns).
public func transpose(_ X: [Float], rows: Int, columns: Int) -> [Float] {
    var out = [Float](repeating: 0, count: X.count)
    for i in 0..<rows { for j in 0..<columns { out[j * rows + i] = X[i * columns + j] } }
    return out
}
