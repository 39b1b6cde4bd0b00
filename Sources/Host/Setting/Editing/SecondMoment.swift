import Engine
import Foundation
import Support

/// E[x xᵀ] of a linear module's inputs over a corpus (MEMIT's covariance of MLP keys), with
/// the unedited model. Cached on disk once per (model, module, corpus, token count), with that
/// provenance in the file: a cache for anything else is recomputed, an unreadable one refused.
public enum SecondMoment {
    public static var cacheFolder: String { CacheFolder.path }

    /// `corpusID` names the corpus (its SHA-256); `modelSHA256`, when known, the model's files:
    /// both are provenance a cache must match.
    public static func compute(
        model: CausalLM, module: String, docs: [[Int32]], corpusID: String, tokens: Int, modelSHA256: String? = nil,
        progress: (String) -> Void = { _ in }
    ) throws -> Tensor {
        guard let lin = model.linears.first(where: { $0.name == module }) else {
            throw CanonEditError("no linear layer named \(module)")
        }
        let d = lin.inFeatures
        let identity = ModelIdentity.of(model)
        var provenance = [
            "model": identity, "module": module, "corpus": corpusID, "tokens": String(tokens), "dtype": "F32",
            "statistic": "mean of x x^T over inputs",
        ]
        if let modelSHA256 { provenance["model_sha256"] = modelSHA256 }
        let path = cacheFolder + "/moments/\(identity)-\(module)-\(corpusID)-\(tokens).safetensors"
        if FileManager.default.fileExists(atPath: path) {
            let f: SafetensorsFile
            do { f = try SafetensorsFile(path: path) } catch {
                throw CanonEditError("\(path): corrupt statistics cache (\(error)); delete it to recompute")
            }
            if provenance.allSatisfy({ f.metadata[$0.key] == $0.value }), f.shape(of: "moment") == [d, d] {
                let t = Tensor([d, d])
                try f.load("moment", into: t)
                guard f.metadata["checksum"] == Tensor.checksum([t]) else {
                    throw CanonEditError(
                        "\(path): statistics cache fails its checksum (corrupt); delete it to recompute")
                }
                return t
            }
            progress("\(path): made for something else; recomputing")
        }
        // Progress is saved every few documents, so an interrupted computation resumes there.
        let partial = path + ".partial"
        let sum = Tensor([d, d])
        var count = 0, firstDoc = 0
        if let f = try? SafetensorsFile(path: partial), provenance.allSatisfy({ f.metadata[$0.key] == $0.value }),
            f.shape(of: "sum") == [d, d], let c = Int(f.metadata["count"] ?? ""),
            let next = Int(f.metadata["next_document"] ?? "")
        {
            try f.load("sum", into: sum)
            (count, firstDoc) = (c, next)
            progress("second moment of \(module): resuming at document \(next) (\(c) tokens done)")
        }
        var rows: [Float] = []
        lin.slot.capture = { x, n in rows = Array(UnsafeBufferPointer(start: x, count: n * d)) }
        defer { lin.slot.capture = nil }
        try Folder.make(cacheFolder + "/moments")
        for (i, doc) in docs.enumerated() where i >= firstDoc && count < tokens {
            let ids = Array(doc.prefix(min(model.contextLength, tokens - count)))
            guard !ids.isEmpty else { continue }
            // Only the blocks up to the module's own run: nothing above changes its inputs.
            if let decoder = model as? DecoderLM, let layer = decoder.layer(of: lin) {
                try decoder.runBlocks(tokens: ids, B: 1, T: ids.count, through: layer)
            } else {
                try model.run(tokens: ids, B: 1, T: ids.count, head: TokenNLL(rows: [], targets: []), train: false)
            }
            rows.withUnsafeBufferPointer { r in
                Blas.gemm(
                    transA: true, M: d, N: d, K: ids.count, A: r.baseAddress!, lda: d, B: r.baseAddress!, ldb: d,
                    beta: 1, C: sum.data, ldc: d)
            }
            count += ids.count
            if i % 20 == 19 {
                progress("second moment of \(module): \(count)/\(tokens) tokens")
                var meta = provenance
                meta["count"] = String(count)
                meta["next_document"] = String(i + 1)
                try SafetensorsWriter.write([("sum", sum)], to: partial, metadata: meta)
            }
            try Cancellation.check()
        }
        guard count > 0 else { throw CanonEditError("the corpus for \(module)'s statistics has no tokens") }
        for i in 0..<sum.count { sum[i] /= Float(count) }
        var meta = provenance
        meta["tokens_used"] = String(count)
        meta["checksum"] = Tensor.checksum([sum])
        try SafetensorsWriter.write([("moment", sum)], to: path, metadata: meta)
        try? FileManager.default.removeItem(atPath: partial)
        return sum
    }
}
