import Foundation

/// cos/sin tables for rotary embeddings: (positions, R/2), angle = pos · base^(-2i/R),
/// computed in double and rounded once; Llama 3.1's frequency scaling applied when set.
struct RopeTable {
    let rotaryDim: Int
    let base: Double
    let scaling: RotaryScaling?
    private(set) var cos: [Float] = []
    private(set) var sin: [Float] = []
    private(set) var positions = 0

    init(rotaryDim: Int, base: Double, scaling: RotaryScaling? = nil) {
        self.rotaryDim = rotaryDim
        self.base = base
        self.scaling = scaling
    }

    mutating func ensure(_ n: Int) {
        guard n > positions else { return }
        let half = rotaryDim / 2
        let newN = max(n, positions * 2, 64)
        cos = [Float](repeating: 0, count: newN * half)
        sin = cos
        for p in 0..<newN {
            for i in 0..<half {
                // inverse frequency computed in fp32 as the reference implementations do
                var inv = Float(1.0 / Foundation.pow(base, Double(2 * i) / Double(rotaryDim)))
                if let scaling { inv = scaling.scaled(inv) }
                let a = Double(Float(p) * inv)
                cos[p * half + i] = Float(Foundation.cos(a))
                sin[p * half + i] = Float(Foundation.sin(a))
            }
        }
        positions = newN
    }
}

/// Llama 3.1's rotary scaling (`rope_type: llama3`): wavelengths longer than
/// original_context / low_freq_factor are slowed by `factor`, shorter than original_context /
/// high_freq_factor kept, and those between blended smoothly.
public struct RotaryScaling: Equatable {
    public var factor, lowFreqFactor, highFreqFactor, originalContext: Double

    func scaled(_ inv: Float) -> Float {
        let wavelength = 2 * Float.pi / inv
        let low = Float(originalContext / lowFreqFactor), high = Float(originalContext / highFreqFactor)
        if wavelength < high { return inv }
        if wavelength > low { return inv / Float(factor) }
        let smooth =
            (Float(originalContext) / wavelength - Float(lowFreqFactor)) / Float(highFreqFactor - lowFreqFactor)
        return (1 - smooth) * inv / Float(factor) + smooth * inv
    }
}
