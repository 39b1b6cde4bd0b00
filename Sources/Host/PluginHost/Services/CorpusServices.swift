import Engine
import Foundation
import PluginAPI
import Setting
import Support

extension PluginBridge {
    /// Data services of the host table: the canonical examples (tokenized once when the data set
    /// was loaded), corpora named by path (read and tokenized once per path), and generation with
    /// the unedited model.
    static func installCorpusServices(_ t: inout ce_host) {
        t.example_count = { ctx in Int64(bridge(ctx).session.examples.count) }
        t.example_tokens = { ctx, index, which, ids, count in
            let b = bridge(ctx)
            guard let ids, let count, index >= 0, index < b.session.examples.count else {
                return b.fail(
                    CE_ERR_INVALID_ARGUMENT, "example index \(index) is outside 0..<\(b.session.examples.count)")
            }
            let ex = b.session.examples[Int(index)]
            let tokens: [Int32]?
            switch which {
            case CE_TEXT_PREFIX: tokens = ex.prefix
            case CE_TEXT_SUFFIX: tokens = ex.suffix
            case CE_TEXT_SUFFIX2: tokens = ex.suffix2
            case CE_TEXT_THROUGH_SUBJECT: tokens = ex.throughSubject
            default: return b.fail(CE_ERR_INVALID_ARGUMENT, "unknown text kind \(which)")
            }
            guard let tokens else { return b.fail(CE_ERR_NOT_FOUND, "example \(index) has no text of kind \(which)") }
            let view = b.pinned(tokens, key: (b.session.examplesVersion << 40) + Int(index) * 4 + Int(which))
            ids.pointee = UnsafePointer(view.baseAddress!)
            count.pointee = Int64(view.count)
            return CE_OK
        }
        t.corpus_size = { ctx, path, out in
            let b = bridge(ctx)
            guard let path, let out else { return CE_ERR_INVALID_ARGUMENT }
            do { out.pointee = Int64(try b.corpus(String(cString: path)).count); return CE_OK } catch {
                return b.fail(CE_ERR_NOT_FOUND, "\(error)")
            }
        }
        t.corpus_document = { ctx, path, index, ids, count in
            let b = bridge(ctx)
            guard let path, let ids, let count else { return CE_ERR_INVALID_ARGUMENT }
            do {
                let docs = try b.corpus(String(cString: path))
                guard index >= 0, index < docs.count else {
                    return b.fail(CE_ERR_INVALID_ARGUMENT, "document \(index) is outside 0..<\(docs.count)")
                }
                ids.pointee = UnsafePointer(docs[Int(index)].baseAddress)
                count.pointee = Int64(docs[Int(index)].count)
                return CE_OK
            } catch { return b.fail(CE_ERR_NOT_FOUND, "\(error)") }
        }
        t.generate = { ctx, prompt, count, maxTokens, temperature, seed, out, written in
            let b = bridge(ctx)
            guard let ids = b.tokens(prompt, count), let out, let written, maxTokens >= 0 else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "generate: missing arguments")
            }
            do {
                let gen = try b.session.withOriginalModel {
                    try Scoring.generate(
                        b.session.model, prompt: ids, maxTokens: Int(maxTokens), temperature: temperature, seed: seed)
                }
                out.update(from: gen, count: gen.count)
                written.pointee = Int64(gen.count)
                return CE_OK
            } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
        }
    }
}
