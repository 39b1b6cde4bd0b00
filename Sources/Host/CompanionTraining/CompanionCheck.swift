import Engine
import Foundation
import Setting
import Support

/// KL(base ‖ companion) and both models' NLL on documents, every position, with the base run
/// live (no cached states): the independent check of a trained companion.
public enum CompanionCheck {
    public struct Figures: Codable, Equatable {
        public var documents: Int
        public var tokens: Int
        public var kl: Double  // nats/token, every position
        public var companion_nll: Double  // nats/token, next-token positions
        public var base_nll: Double
    }

    public static func run(companion: BackpackLM, base: DecoderLM, documents: [[Int32]]) throws -> Figures {
        var kl = 0.0, cn = 0.0, bn = 0.0, rows = 0, predicted = 0
        for doc in documents {
            let T = doc.count
            let ref = LogSoftmaxRows(T: T, V: base.vocabSize)
            try base.run(tokens: doc, B: 1, T: T, head: ref, train: false)
            for t in 0..<(T - 1) { bn -= Double(ref.out[t * base.vocabSize + Int(doc[t + 1])]) }
            let klObj = KLObjective(reference: ref.out, weight: 1)
            try companion.run(tokens: doc, B: 1, T: T, head: klObj, train: false)
            kl += klObj.kl.reduce(0.0) { $0 + Double($1) }
            let nll = TokenNLL(nextTokensOf: doc, B: 1, T: T)
            try companion.run(tokens: doc, B: 1, T: T, head: nll, train: false)
            cn += nll.nll.reduce(0.0) { $0 + Double($1) }
            rows += T
            predicted += T - 1
        }
        return Figures(
            documents: documents.count, tokens: rows, kl: kl / Double(max(rows, 1)),
            companion_nll: cn / Double(max(predicted, 1)), base_nll: bn / Double(max(predicted, 1)))
    }
}
