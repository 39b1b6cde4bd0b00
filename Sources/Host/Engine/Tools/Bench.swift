import Foundation
import Support

/// Throughput of the engine on a model: forward (frozen, weights as stored) and forward+backward
/// (all parameters trained, fp32 as training holds them) over a (B, T) batch of fixed
/// pseudo-random tokens; median of `reps` timed runs
/// after one warm-up. Peak memory is the process's high-water resident set. For decoders it
/// also counts the matrix-product work (MatmulWork) and reports the rate achieved against this
/// machine's sgemm rate, measured in the same run.
public struct BenchResult: Codable {
    public var model: String
    public var batch: Int
    public var seq: Int
    public var threads: Int
    public var forward_ms: Double
    public var forward_tokens_per_s: Double
    public var forward_backward_ms: Double
    public var forward_backward_tokens_per_s: Double
    public var peak_rss_mib: Double
    public var trained: String? = nil  // "all" or "norms"
    /// sgemm on 1024 × 1024 matrices with the same threads (best of five), GFLOP/s.
    public var gemm_gflops: Double? = nil
    public var forward_gflops: Double? = nil
    public var forward_fraction_of_gemm: Double? = nil
    public var forward_backward_gflops: Double? = nil
    public var forward_backward_fraction_of_gemm: Double? = nil
}

/// The floating-point work of a decoder's matrix products on a (B, T) batch: every linear layer
/// (2·N·in·out), the attention scores and mixing (4·B·H·T²·D per layer, computed for the whole
/// square), the output layer on the B·(T−1) scored rows (2·R·C·V). Training costs three times
/// that (the input and the weight gradients each cost one forward).
public enum MatmulWork {
    public static func forwardFLOPs(_ m: DecoderLM, B: Int, T: Int) -> Double {
        let N = Double(B * T), s = m.spec
        let linear = m.linears.reduce(0.0) { $0 + 2 * N * Double($1.inFeatures * $1.outFeatures) }
        let attention = Double(s.L) * 4 * Double(B * s.H * T * T * s.D)
        let head = 2 * Double(B * (T - 1)) * Double(s.C * s.V)
        return linear + attention + head
    }

    /// The best of five 1024³ sgemms, in GFLOP/s.
    public static func gemmRate() -> Double {
        let n = 1024
        let a = Tensor([n, n]), b = Tensor([n, n]), c = Tensor([n, n])
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            Blas.gemm(M: n, N: n, K: n, A: a.data, lda: n, B: b.data, ldb: n, C: c.data, ldc: n)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}

public enum Bench {
    /// What forward+backward trains: every parameter, or only the 1-D norm weights.
    public enum Training: String, Codable, CaseIterable, Sendable { case all, norms }

    public static func run(
        _ lm: LoadedModel, B: Int, T: Int, reps: Int, train: Training = .all, progress: (String) -> Void
    ) throws -> BenchResult {
        let model = lm.model
        var rng = SeededRandom(seed: 1234)
        let tokens = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(model.vocabSize)) }
        let head = { TokenNLL(nextTokensOf: tokens, B: B, T: T) }
        func time(_ f: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try f()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

        model.setTrainable(false)
        var fwd: [Double] = []
        for i in 0...reps {
            let ms = try time { try model.run(tokens: tokens, B: B, T: T, head: head(), train: false) }
            progress("forward \(i == 0 ? "warm-up" : "rep \(i)"): \(Int(ms)) ms")
            if i > 0 { fwd.append(ms) }
        }
        if train == .all {
            model.setTrainable(true)
            // As an edit session does when it trains a tensor: an fp32 copy of the stored values,
            // which products then read (a frozen weight is decoded panel by panel instead).
            for p in model.parameters { _ = p.value.data }
        } else {
            for p in model.parameters { p.requiresGrad = p.value.shape.count == 1 }
        }
        var fb: [Double] = []
        for i in 0...reps {
            let ms = try time {
                model.zeroGrads()
                try model.run(tokens: tokens, B: B, T: T, head: head(), train: true)
            }
            progress("forward+backward \(i == 0 ? "warm-up" : "rep \(i)"): \(Int(ms)) ms")
            if i > 0 { fb.append(ms) }
        }
        model.setTrainable(false)
        let f = median(fwd), g = median(fb)
        var r = BenchResult(
            model: lm.name, batch: B, seq: T, threads: Blas.threads,
            forward_ms: f, forward_tokens_per_s: Double(B * T) / f * 1000,
            forward_backward_ms: g, forward_backward_tokens_per_s: Double(B * T) / g * 1000,
            peak_rss_mib: Double(peakResidentBytes()) / 1_048_576)
        r.trained = train.rawValue
        if let decoder = model as? DecoderLM {
            let work = MatmulWork.forwardFLOPs(decoder, B: B, T: T), rate = MatmulWork.gemmRate()
            r.gemm_gflops = rate
            r.forward_gflops = work / f / 1e6
            // Without weight gradients a backward pass costs one forward, not two.
            r.forward_backward_gflops = (train == .all ? 3 : 2) * work / g / 1e6
            r.forward_fraction_of_gemm = r.forward_gflops! / rate
            r.forward_backward_fraction_of_gemm = r.forward_backward_gflops! / rate
            progress(
                String(
                    format:
                        "matrix products: forward %.1f GFLOP/s (%.0f%% of sgemm's %.1f), "
                        + "forward+backward %.1f (%.0f%%)",
                    r.forward_gflops!, 100 * r.forward_fraction_of_gemm!, rate, r.forward_backward_gflops!,
                    100 * r.forward_backward_fraction_of_gemm!))
        }
        return r
    }

    /// The number in a /proc line such as "VmHWM:\t  795648 kB" (no space after the tab from
    /// 10 GB up, so split on tabs too).
    public static func kilobytes<S: StringProtocol>(_ line: S) -> Int? {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first
    }

    /// VmHWM from /proc/self/status, in bytes.
    public static func peakResidentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (kilobytes(line) ?? 0) * 1024
        }
        return 0
    }
}
