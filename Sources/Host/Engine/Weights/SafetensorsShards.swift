import Foundation
import Support

/// A Hugging Face folder's weights: one `model.safetensors` when they fit in `maxShardBytes`,
/// else shards `model-0000k-of-0000n.safetensors` filled in order up to that size (a tensor
/// larger than the limit gets a shard of its own) and `model.safetensors.index.json` mapping
/// each tensor to its shard, as transformers writes them.
public enum SafetensorsShards {
    /// transformers' own default shard size for `save_pretrained` in the 4.x series.
    public static let defaultMaxShardBytes = 5_000_000_000

    /// Writes the weights into `dir`; returns the files written.
    @discardableResult
    public static func write(_ tensors: [(String, Tensor)], to dir: String, maxShardBytes: Int) throws -> [String] {
        let total = tensors.reduce(0) { $0 + $1.1.count * 4 }
        guard total > maxShardBytes else {
            try SafetensorsWriter.write(tensors, to: dir + "/model.safetensors", metadata: ["format": "pt"])
            return ["model.safetensors"]
        }
        var shards: [[(String, Tensor)]] = [[]]
        var size = 0
        for (name, t) in tensors {
            if size > 0, size + t.count * 4 > maxShardBytes {
                shards.append([])
                size = 0
            }
            shards[shards.count - 1].append((name, t))
            size += t.count * 4
        }
        let n = shards.count
        let files = (1...n).map { String(format: "model-%05d-of-%05d.safetensors", $0, n) }
        var weightMap: [String: String] = [:]
        for (shard, file) in zip(shards, files) {
            try SafetensorsWriter.write(shard, to: dir + "/" + file, metadata: ["format": "pt"])
            for (name, _) in shard { weightMap[name] = file }
        }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys, .prettyPrinted]),
            to: dir + "/model.safetensors.index.json")
        return files + ["model.safetensors.index.json"]
    }
}
