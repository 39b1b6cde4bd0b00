import Engine
import Foundation
import PluginHost
import Setting
import Support

/// What a benchmark ran with, written beside its tables: the canonedit version, each model's
/// file and SHA-256, each data file's SHA-256 as read, the plugins and every base config.
public struct BenchmarkManifest: Codable {
    public struct Model: Codable { public var name: String, path: String, sha256: String }
    public struct Plugin: Codable { public var id: String, version: String, abi: String, path: String }

    public var canonedit: String
    public var spec: BenchmarkSpec
    public var models: [Model]
    public var data: [String: String]
    public var plugins: [Plugin]
    public var configs: [String]

    static func write(
        spec: BenchmarkSpec, layout: BenchmarkLayout, version: String, sources: [String: String],
        methods: [PluginLibrary], configs: [String]
    ) throws {
        let models = try spec.models.map { m -> Model in
            let path = try ModelStore.resolve(try ModelStore.resolveConfigModel(spec.resolveModel(m)))
            return Model(name: m, path: path, sha256: try digest(path))
        }
        let manifest = BenchmarkManifest(
            canonedit: version, spec: spec, models: models, data: sources,
            plugins: methods.map { Plugin(id: $0.id, version: $0.version, abi: $0.apiVersion, path: $0.path) },
            configs: configs)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(manifest), to: layout.root + "/manifest.json")
    }

    /// A file's SHA-256, or a folder's: over each file's name and digest, in name order.
    static func digest(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CanonEditError("\(path): no such model file")
        }
        guard isDir.boolValue else { return try fileDigest(path) }
        var d = SHA256Digest()
        for f in try FileManager.default.contentsOfDirectory(atPath: path).sorted() where !f.hasPrefix(".") {
            d.add(Data((f + " " + (try digest(path + "/" + f)) + "\n").utf8))
        }
        return d.hex
    }

    /// Reads in 8 MB pieces, so a model of many GB is not held at once.
    static func fileDigest(_ path: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { throw CanonEditError("\(path): cannot read") }
        defer { try? h.close() }
        var d = SHA256Digest()
        while let chunk = try h.read(upToCount: 8 << 20), !chunk.isEmpty { d.add(chunk) }
        return d.hex
    }
}
