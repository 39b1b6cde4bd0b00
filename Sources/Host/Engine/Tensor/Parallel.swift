import Dispatch

/// Loops whose parts are independent (rows of a softmax, elements of an Adam step, sequences
/// of an attention batch, rows of a stored matrix being decoded), split over as many threads
/// as OpenBLAS uses. Each part computes exactly what the serial loop would, so results are the
/// same bit for bit whatever the thread count.
public enum Parallel {
    public static var threads: Int { max(1, min(Blas.threads, 8)) }

    /// Below this much work (items × cost per item) a loop stays serial: starting the workers
    /// costs more than it saves (about 1 µs; platform notes: worth it above 50–100 K elements).
    /// (A variable so tests can split tiny models' loops too.)
    nonisolated(unsafe) static var minimumWork = 1 << 16

    /// `work(part, range)` for contiguous ranges of 0..<n, aligned to `align`, in parallel.
    /// `cost` is the rough work per item; parts are numbered so callers can hand each its own
    /// scratch.
    public static func split(_ n: Int, align: Int = 1, cost: Int = 1, _ work: (Int, Range<Int>) -> Void) {
        let threads = Self.threads
        let parts = n >= 2 * align * threads && n * cost >= minimumWork ? threads : 1
        if parts == 1 {
            if n > 0 { work(0, 0..<n) }
            return
        }
        run(n, align: align, parts: parts, work)
    }

    /// `work(part, range)` for `parts` contiguous ranges of 0..<n aligned to `align`, in
    /// parallel, whatever the size (callers that decide the split themselves, like Blas.gemm).
    public static func run(_ n: Int, align: Int = 1, parts: Int, _ work: (Int, Range<Int>) -> Void) {
        let units = (n + align - 1) / align
        DispatchQueue.concurrentPerform(iterations: parts) { t in
            let a = min(n, units * t / parts * align), b = min(n, units * (t + 1) / parts * align)
            if a < b { work(t, a..<b) }
        }
    }
}
