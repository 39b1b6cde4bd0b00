import Engine
import Foundation
import Kernels
import Support

/// Adam state kept by the host for any tensor a method asks it to update (the authors'
/// `trainer.py`: betas (0.9, 0.995), eps 1e-8, no weight decay by default).
public final class AdamService {
    public final class State {
        public let m: Tensor, v: Tensor
        public var t: Int64 = 0
        init(_ shape: [Int]) { m = Tensor(shape); v = Tensor(shape) }
    }
    public private(set) var states: [String: State] = [:]

    /// What the steps since `takeChecks` found while reading each gradient and writing each
    /// value: the trainer's NaN checks skip the tensors stepped here (two passes over memory
    /// fewer per update).
    public struct Finite {
        public var gradient = true, value = true
    }
    var checks: [String: Finite] = [:]

    /// The findings of the steps since the last call, by tensor name; forgets them.
    public func takeChecks() -> [String: Finite] {
        defer { checks = [:] }
        return checks
    }

    public init() {}

    /// Forgets a tensor's state (an adapter folded away; a new one of that name starts afresh).
    public func forget(_ name: String) { states[name] = nil }

    public func state(for p: Parameter) -> State {
        if let s = states[p.name] { return s }
        let s = State(p.entries.map { [$0.count] } ?? p.value.shape)
        states[p.name] = s
        return s
    }

    public func step(
        _ p: Parameter, lr: Double, beta1: Double = 0.9, beta2: Double = 0.995, eps: Double = 1e-8,
        weightDecay: Double = 0
    ) {
        guard let g = p.grad else { return }
        let s = state(for: p)
        s.t += 1
        // Entry-selected tensors step on their entries, gathered and scattered back.
        let values = p.entries == nil ? p.value : p.entryValues()
        // Element by element, so the tensor is split over threads (memory-bound: 16 bytes a value).
        let (x, dx, m, v, t) = (values.data, g.data, s.m.data, s.v.data, s.t)
        var flags = [Int32](repeating: 0, count: Parallel.threads)
        flags.withUnsafeMutableBufferPointer { found in
            Parallel.split(values.count, align: 64, cost: 8) { part, r in
                let o = r.lowerBound
                found[part] = ce_adam_step(
                    x + o, dx + o, m + o, v + o, Int64(r.count), Float(lr), Float(beta1), Float(beta2), Float(eps),
                    Float(weightDecay), t)
            }
        }
        if p.entries != nil { p.setEntryValues(values) }
        let any = flags.reduce(0, |)
        var c = checks[p.name] ?? Finite()
        c.gradient = c.gradient && any & CE_ADAM_NONFINITE_GRADIENT == 0
        c.value = c.value && any & CE_ADAM_NONFINITE_VALUE == 0
        checks[p.name] = c
    }
}
