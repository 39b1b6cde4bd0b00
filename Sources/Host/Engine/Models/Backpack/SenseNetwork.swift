import Foundation
import Kernels
import Support

/// A Backpack's sense network: k sense vectors for each token from its embedding alone (no
/// context, no position). `forward` keeps what `backward` needs in the shared scratch.
protocol SenseNetwork: AnyObject {
    var parameters: [Parameter] { get }
    var linears: [Linear] { get }
    var trains: Bool { get }
    /// out (N, k·C): row n holds the k senses of tokens[n], sense ℓ at ℓ·C.
    func forward(_ tokens: [Int32], out: UnsafeMutablePointer<Float>)
    /// d(senses) (N, k·C) into the network's parameters (and the embedding when it trains).
    func backward(_ tokens: [Int32], dOut: UnsafePointer<Float>)
}

/// stanfordnlp/backpack-gpt2's sense network:
///   r2 = ln(e) + e;  r3 = r2 + mlp(ln_1(r2));  senses = final_mlp(ln_2(r3))
final class GPT2SenseNetwork: SenseNetwork {
    let embed: Parameter  // (V, C), shared with the GPT-2 encoder
    let ln, ln1, ln2: (Parameter, Parameter)
    let fc, proj, finalFc, finalProj: Linear  // C→F, F→C, C→F, F→k·C
    let C: Int, F: Int, eps: Float
    let scratch: Scratch

    init(
        embed: Parameter, ln: (Parameter, Parameter), ln1: (Parameter, Parameter), ln2: (Parameter, Parameter),
        fc: Linear, proj: Linear, finalFc: Linear, finalProj: Linear, eps: Float, scratch: Scratch
    ) {
        self.embed = embed
        self.ln = ln; self.ln1 = ln1; self.ln2 = ln2
        self.fc = fc; self.proj = proj; self.finalFc = finalFc; self.finalProj = finalProj
        C = fc.inFeatures
        F = fc.outFeatures
        self.eps = eps
        self.scratch = scratch
    }

    var parameters: [Parameter] {
        [ln.0, ln.1, ln1.0, ln1.1, ln2.0, ln2.1] + [fc, proj, finalFc, finalProj].flatMap { [$0.weight, $0.bias!] }
    }
    var linears: [Linear] { [fc, proj, finalFc, finalProj] }
    var trains: Bool {
        [ln.0, ln.1, ln1.0, ln1.1, ln2.0, ln2.1].contains(where: \.requiresGrad) || linears.contains(where: \.trains)
            || embed.requiresGrad
    }

    func forward(_ tokens: [Int32], out: UnsafeMutablePointer<Float>) {
        let N = tokens.count, s = scratch
        let e = s.get("sn.e", N * C), u = s.get("sn.u", N * C), r2 = s.get("sn.r2", N * C), v = s.get("sn.v", N * C)
        let a1 = s.get("sn.a1", N * F), g1 = s.get("sn.g1", N * F), r3 = s.get("sn.r3", N * C), w = s.get("sn.w", N * C)
        let a2 = s.get("sn.a2", N * F), g2 = s.get("sn.g2", N * F)
        let m = s.get("sn.mean", 3 * N), r = s.get("sn.rstd", 3 * N)
        for n in 0..<N { (e + n * C).update(from: embed.value.data + Int(tokens[n]) * C, count: C) }
        ce_layernorm_forward(u, m, r, e, ln.0.value.data, ln.1.value.data, Int64(N), Int32(C), eps)
        r2.update(from: u, count: N * C); ce_add(r2, e, Int64(N * C))  // r2 = ln(e) + e
        ce_layernorm_forward(v, m + N, r + N, r2, ln1.0.value.data, ln1.1.value.data, Int64(N), Int32(C), eps)
        fc.forward(a1, v, N: N); ce_gelu_forward(g1, a1, Int64(N * F), 1)
        r3.update(from: r2, count: N * C); proj.forward(r3, g1, N: N, accumulate: true)  // r3 = mlp(v) + r2
        ce_layernorm_forward(w, m + 2 * N, r + 2 * N, r3, ln2.0.value.data, ln2.1.value.data, Int64(N), Int32(C), eps)
        finalFc.forward(a2, w, N: N); ce_gelu_forward(g2, a2, Int64(N * F), 1)
        finalProj.forward(out, g2, N: N)
    }

    func backward(_ tokens: [Int32], dOut: UnsafePointer<Float>) {
        guard trains else { return }
        let N = tokens.count, s = scratch
        let e = s.get("sn.e", N * C), r2 = s.get("sn.r2", N * C), v = s.get("sn.v", N * C)
        let a1 = s.get("sn.a1", N * F), g1 = s.get("sn.g1", N * F), r3 = s.get("sn.r3", N * C), w = s.get("sn.w", N * C)
        let a2 = s.get("sn.a2", N * F), g2 = s.get("sn.g2", N * F)
        let m = s.get("sn.mean", 3 * N), r = s.get("sn.rstd", 3 * N)
        let dg = s.zeroed("sn.dg", N * F), da = s.get("sn.da", N * F)
        let dw = s.zeroed("sn.dw", N * C), dr3 = s.zeroed("sn.dr3", N * C), dv = s.zeroed("sn.dv", N * C)
        let de = s.zeroed("sn.de", N * C)
        finalProj.backward(dx: dg, dout: dOut, x: g2, N: N)
        ce_gelu_backward(da, dg, a2, Int64(N * F), 1)
        finalFc.backward(dx: dw, dout: da, x: w, N: N)
        ce_layernorm_backward(
            dr3, ln2.0.activeGrad, ln2.1.activeGrad, dw, r3, ln2.0.value.data, m + 2 * N, r + 2 * N, Int64(N), Int32(C))
        // r3 = proj(gelu(fc(v))) + r2: dr2 = dr3 + (through the MLP and ln_1)
        let dg1 = s.zeroed("sn.dg1", N * F)
        proj.backward(dx: dg1, dout: dr3, x: g1, N: N)
        ce_gelu_backward(da, dg1, a1, Int64(N * F), 1)
        fc.backward(dx: dv, dout: da, x: v, N: N)
        let dr2 = dr3  // reuse: dr2 = dr3 + ln_1 backward
        ce_layernorm_backward(
            dr2, ln1.0.activeGrad, ln1.1.activeGrad, dv, r2, ln1.0.value.data, m + N, r + N, Int64(N), Int32(C))
        // r2 = ln(e) + e
        de.update(from: dr2, count: N * C)
        ce_layernorm_backward(de, ln.0.activeGrad, ln.1.activeGrad, dr2, e, ln.0.value.data, m, r, Int64(N), Int32(C))
        if let dE = embed.activeGrad { for n in 0..<N { ce_add(dE + Int(tokens[n]) * C, de + n * C, Int64(C)) } }
    }
}

/// A companion Backpack's sense network: a two-layer MLP on the base model's (frozen) input
/// embeddings, senses = fc2(gelu(fc1(e))), C → F → k·C.
final class MLPSenseNetwork: SenseNetwork {
    let embed: Parameter  // (V, C), the base model's; not trained here
    let fc1, fc2: Linear
    let C: Int, F: Int
    let scratch: Scratch

    init(embed: Parameter, fc1: Linear, fc2: Linear, scratch: Scratch) {
        self.embed = embed
        self.fc1 = fc1
        self.fc2 = fc2
        C = fc1.inFeatures
        F = fc1.outFeatures
        self.scratch = scratch
    }

    var parameters: [Parameter] { [fc1, fc2].flatMap { [$0.weight] + ($0.bias.map { [$0] } ?? []) } }
    var linears: [Linear] { [fc1, fc2] }
    var trains: Bool { fc1.trains || fc2.trains }

    func forward(_ tokens: [Int32], out: UnsafeMutablePointer<Float>) {
        let N = tokens.count, s = scratch
        let e = s.get("mlp.e", N * C), a = s.get("mlp.a", N * F), g = s.get("mlp.g", N * F)
        for n in 0..<N { (e + n * C).update(from: embed.value.data + Int(tokens[n]) * C, count: C) }
        fc1.forward(a, e, N: N)
        ce_gelu_forward(g, a, Int64(N * F), 1)
        fc2.forward(out, g, N: N)
    }

    func backward(_ tokens: [Int32], dOut: UnsafePointer<Float>) {
        guard trains else { return }
        let N = tokens.count, s = scratch
        let e = s.get("mlp.e", N * C), a = s.get("mlp.a", N * F), g = s.get("mlp.g", N * F)
        let dg = s.zeroed("mlp.dg", N * F), da = s.get("mlp.da", N * F)
        fc2.backward(dx: fc1.trains ? dg : nil, dout: dOut, x: g, N: N)
        guard fc1.trains else { return }
        ce_gelu_backward(da, dg, a, Int64(N * F), 1)
        fc1.backward(dx: nil, dout: da, x: e, N: N)
    }
}
