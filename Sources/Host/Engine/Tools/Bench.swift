import Foundation
import Support

/// Throughput of the engine on a model: forward and forward+backward (all parameters
/// trainable) over a (B, T) batch of fixed pseudo-random tokens; median of `reps` timed runs
/// after one warm-up. Peak memory is the process's high-water resident set.
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
}

public enum Bench {
    public static func run(
        _ lm: LoadedModel, B: Int, T: Int, reps: Int, progress: (String) -> Void
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
        model.setTrainable(true)
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
        return BenchResult(
            model: lm.name, batch: B, seq: T, threads: Blas.threads,
            forward_ms: f, forward_tokens_per_s: Double(B * T) / f * 1000,
            forward_backward_ms: g, forward_backward_tokens_per_s: Double(B * T) / g * 1000,
            peak_rss_mib: Double(peakResidentBytes()) / 1_048_576)
    }

    /// VmHWM from /proc/self/status, in bytes.
    public static func peakResidentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
