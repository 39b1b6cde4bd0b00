import CBLAS
import Foundation
import Support

/// Throughput of the engine on a model: forward (frozen, weights as stored) and forward+backward
/// (all parameters trained, fp32 as training holds them) over a (B, T) batch of fixed
/// pseudo-random tokens; median of `reps` timed runs after one warm-up. Peak memory is the
/// process's high-water resident set. For decoders it also counts the matrix-product work
/// (MatmulWork) and reports the rate achieved against this machine's sgemm rate, sampled
/// before each timed pass (GemmRate).
public struct BenchResult: Codable {
    public var model: String
    public var batch: Int
    public var seq: Int
    public var threads: Int
    /// OpenBLAS's kernels (its core name, e.g. SkylakeX or Haswell): they set sgemm's rate.
    public var blas_core: String? = nil
    public var forward_ms: Double
    public var forward_tokens_per_s: Double
    public var forward_backward_ms: Double
    public var forward_backward_tokens_per_s: Double
    public var peak_rss_mib: Double
    public var trained: String? = nil  // "all" or "norms"
    /// sgemm on 1024 × 1024 matrices with the same threads, GFLOP/s: sampled (best of three)
    /// right before each timed pass; the median of the samples.
    public var gemm_gflops: Double? = nil
    /// The matrix-product work over the median pass's time.
    public var forward_gflops: Double? = nil
    /// Each pass's matrix-product rate over its own sgemm sample; the median over passes.
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
}

/// This machine's sgemm rate: 1024 × 1024 products with the threads the model uses. The rate
/// drifts by ±10% over seconds on a shared machine, so the bench samples it right before each
/// timed pass and compares each pass with its own sample. Each sample is the higher of the two
/// ways to thread the product: split by canonedit (Blas.gemm, as the model's products run) and
/// threaded by OpenBLAS itself, so the yardstick is never the slower way.
public final class GemmRate {
    static let n = 1024
    private let a = Tensor([n, n]), b = Tensor([n, n]), c = Tensor([n, n])

    public init() {
        for i in 0..<(Self.n * Self.n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
    }

    /// The best of `runs` products each way, in GFLOP/s.
    public func sample(runs: Int = 3) -> Double {
        let n = Self.n
        func best(_ product: () -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                product()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return best
        }
        let split = best { Blas.gemm(M: n, N: n, K: n, A: a.data, lda: n, B: b.data, ldb: n, C: c.data, ldc: n) }
        let byOpenBLAS = Blas.threadedByOpenBLAS {
            best {
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a.data, Int32(n),
                    b.data, Int32(n), 0, c.data, Int32(n))
            }
        }
        return 2 * Double(n * n * n) / min(split, byOpenBLAS) / 1e9
    }
}

public enum Bench {
    /// What forward+backward trains: every parameter, or only the 1-D norm weights.
    public enum Training: String, Codable, CaseIterable, Sendable { case all, norms }

    public static func run(
        _ lm: LoadedModel, B: Int, T: Int, reps: Int, train: Training = .all, progress: (String) -> Void
    ) throws -> BenchResult {
        let model = lm.model
        // Checked before anything is drawn or allocated: B×T tokens of the model's context at most
        // (a pass holds several B×T×hidden activations), and T within the context.
        guard T <= model.contextLength else {
            throw CanonEditError("--seq \(T) is longer than the model's context of \(model.contextLength)")
        }
        guard B <= 1 << 20, B * T <= max(model.contextLength, 1 << 16) * 64 else {
            throw CanonEditError(
                "--batch \(B) × --seq \(T) is more tokens than one pass may hold (at most 64 × max(context, 65536))")
        }
        var rng = SeededRandom(seed: 1234)
        let tokens = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(model.vocabSize)) }
        let head = { TokenNLL(nextTokensOf: tokens, B: B, T: T) }
        func time(_ f: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try f()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

        // Each timed pass follows its own sgemm sample (decoders only: the work is counted for them).
        let decoder = model as? DecoderLM, gemm = decoder.map { _ in GemmRate() }
        func timed(_ what: String, _ pass: () throws -> Void) throws -> [(ms: Double, rate: Double?)] {
            var runs: [(ms: Double, rate: Double?)] = []
            for i in 0...reps {
                let rate = gemm?.sample()
                let ms = try time(pass)
                progress(
                    "\(what) \(i == 0 ? "warm-up" : "rep \(i)"): \(Int(ms)) ms"
                        + (rate.map { String(format: " (sgemm before it: %.0f GFLOP/s)", $0) } ?? ""))
                if i > 0 { runs.append((ms, rate)) }
            }
            return runs
        }

        model.setTrainable(false)
        let fwd = try timed("forward") { try model.run(tokens: tokens, B: B, T: T, head: head(), train: false) }
        if train == .all {
            model.setTrainable(true)
            // As an edit session does when it trains a tensor: an fp32 copy of the stored values,
            // which products then read (a frozen weight is decoded panel by panel instead).
            for p in model.parameters { _ = p.value.data }
        } else {
            for p in model.parameters { p.requiresGrad = p.value.shape.count == 1 }
        }
        let fb = try timed("forward+backward") {
            model.zeroGrads()
            try model.run(tokens: tokens, B: B, T: T, head: head(), train: true)
        }
        model.setTrainable(false)
        let f = median(fwd.map(\.ms)), g = median(fb.map(\.ms))
        var r = BenchResult(
            model: lm.name, batch: B, seq: T, threads: Blas.threads,
            forward_ms: f, forward_tokens_per_s: Double(B * T) / f * 1000,
            forward_backward_ms: g, forward_backward_tokens_per_s: Double(B * T) / g * 1000,
            peak_rss_mib: Double(peakResidentBytes()) / 1_048_576)
        r.trained = train.rawValue
        r.blas_core = Blas.coreName
        if let decoder {
            let work = MatmulWork.forwardFLOPs(decoder, B: B, T: T)
            // Without weight gradients a backward pass costs one forward, not two.
            let fbWork = (train == .all ? 3 : 2) * work
            func fraction(_ runs: [(ms: Double, rate: Double?)], _ flops: Double) -> Double {
                median(runs.map { flops / $0.ms / 1e6 / $0.rate! })
            }
            r.gemm_gflops = median((fwd + fb).map { $0.rate! })
            r.forward_gflops = work / f / 1e6
            r.forward_backward_gflops = fbWork / g / 1e6
            r.forward_fraction_of_gemm = fraction(fwd, work)
            r.forward_backward_fraction_of_gemm = fraction(fb, fbWork)
            progress(
                String(
                    format:
                        "matrix products: forward %.1f GFLOP/s (%.0f%% of sgemm's rate, median over passes), "
                        + "forward+backward %.1f (%.0f%%); sgemm %.1f GFLOP/s (median of the samples)",
                    r.forward_gflops!, 100 * r.forward_fraction_of_gemm!, r.forward_backward_gflops!,
                    100 * r.forward_backward_fraction_of_gemm!, r.gemm_gflops!))
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
