import Engine
import Foundation
import Support

/// The key statistics cached in `cache/moments` (SecondMoment): what each was computed from,
/// and whether its values still match the checksum written with them.
public enum SecondMomentCache {
    public struct Entry: Encodable {
        public let path: String
        public let module: String?
        /// The model's fingerprint (architecture, sizes, leading weights) and its files' SHA-256.
        public let model: String?
        public let model_sha256: String?
        public let corpus_sha256: String?
        public let tokens: Int?
        public let tokens_used: Int?
        public let dtype: String?
        public let bytes: Int
        /// nil when not verified.
        public let intact: Bool?
        public let problem: String?
    }

    public static var folder: String { SecondMoment.cacheFolder + "/moments" }

    /// Every cached statistic, in name order; with `verify`, each one's values are read and checked.
    public static func entries(verify: Bool) -> [Entry] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.hasSuffix(".safetensors")
        }.sorted()
        return names.map { entry(folder + "/" + $0, verify: verify) }
    }

    /// One cached statistic's provenance; with `verify`, its values read and checked.
    public static func entry(_ path: String, verify: Bool) -> Entry {
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        let f: SafetensorsFile
        do { f = try SafetensorsFile(path: path) } catch {
            return Entry(
                path: path, module: nil, model: nil, model_sha256: nil, corpus_sha256: nil, tokens: nil,
                tokens_used: nil, dtype: nil, bytes: bytes, intact: false, problem: "unreadable: \(error)")
        }
        let m = f.metadata
        var intact: Bool? = nil, problem: String? = nil
        if verify {
            (intact, problem) = check(f)
        }
        return Entry(
            path: path, module: m["module"], model: m["model"], model_sha256: m["model_sha256"],
            corpus_sha256: m["corpus"], tokens: m["tokens"].flatMap { Int($0) },
            tokens_used: m["tokens_used"].flatMap { Int($0) }, dtype: m["dtype"], bytes: bytes, intact: intact,
            problem: problem)
    }

    /// Whether the file's moment is square and matches its checksum.
    static func check(_ f: SafetensorsFile) -> (Bool, String?) {
        guard let shape = f.shape(of: "moment"), shape.count == 2, shape[0] == shape[1] else {
            return (false, "no square \"moment\" tensor")
        }
        let t = Tensor(shape)
        do { try f.load("moment", into: t) } catch { return (false, "unreadable moment: \(error)") }
        guard let sum = f.metadata["checksum"] else { return (false, "no checksum in the metadata") }
        guard sum == Tensor.checksum([t]) else { return (false, "the values fail their checksum (corrupt)") }
        guard t.leadingValues(t.count).allSatisfy(\.isFinite) else { return (false, "non-finite values") }
        return (true, nil)
    }
}
