import Foundation
import Support

/// A safetensors file whose arrays go to disk on a background thread while the caller goes
/// on, and whose metadata is given only when it is finished: room for the header is reserved
/// before the arrays and filled in last (with spaces after the JSON, which readers skip).
/// A run's checkpoint knows its arrays when an epoch's training ends but its records only
/// after the evaluation that follows, so the two overlap.
///
/// Until `finish` or `discard` the caller must neither change nor free the arrays. Their
/// addresses are taken at the start, so swapping a tensor's storage in and out (running the
/// unedited model) does not disturb the writer.
public final class PendingSafetensors {
    let items: [SafetensorsWriter.Item]
    let dtype: SafetensorsWriter.DType
    let file: AtomicFile.Pending
    /// Bytes of JSON header the arrays were placed after.
    let reserved: Int
    let job: Job
    let done = DispatchSemaphore(value: 0)
    var waited = false

    /// Starts writing `items` to a temporary sibling of `path`. The header's room is that of
    /// `estimate` (the metadata as far as it is known) plus `slack` bytes.
    public init(
        items: [SafetensorsWriter.Item], to path: String, dtype: SafetensorsWriter.DType = .f32,
        estimate: [String: String] = [:], slack: Int = 1 << 16
    ) throws {
        self.items = items
        self.dtype = dtype
        let json = try SafetensorsWriter.header(items, dtype: dtype, metadata: estimate)
        // The arrays start on a page boundary, so they can be written direct (StagedFileWriter).
        let page = StagedFileWriter.alignment
        reserved = (8 + json.count + slack + page - 1) / page * page - 8
        file = try AtomicFile.Pending(path)
        let sources = items.map(SafetensorsWriter.Source.init)
        let (fd, start, dtype) = (file.handle.fileDescriptor, 8 + reserved, dtype)
        job = Job {
            let out = StagedFileWriter(fd: fd, path: path, offset: start)
            try SafetensorsWriter.writeArrays(sources, dtype: dtype, to: out)
            try out.finish(endsFile: true)
        }
        let thread = Thread { [job, done] in
            job.run()
            done.signal()
        }
        thread.name = "canonedit writer"
        thread.start()
    }

    /// Waits for the arrays, writes the header with `metadata` and renames the file into
    /// place. When the header has outgrown its room, the whole file is written again here.
    public func finish(metadata: [String: String]) throws {
        wait()
        if let e = job.error {
            file.discard()
            throw e as? CanonEditError ?? file.failure(e)
        }
        let json = try SafetensorsWriter.header(items, dtype: dtype, metadata: metadata, size: reserved)
        guard json.count == reserved else {
            file.discard()
            try SafetensorsWriter.write(items: items, to: file.path, dtype: dtype, metadata: metadata)
            return
        }
        do {
            let out = StagedFileWriter(fd: file.handle.fileDescriptor, path: file.path, offset: 0)
            try out.write(SafetensorsWriter.lengthPrefixed(json))
            try out.finish(endsFile: false)
        } catch {
            file.discard()
            throw error as? CanonEditError ?? file.failure(error)
        }
        try file.commit()
    }

    /// Stops caring about the file: waits for the writer and removes the temporary file.
    public func discard() {
        wait()
        file.discard()
    }

    func wait() {
        guard !waited else { return }
        done.wait()
        waited = true
    }

    deinit { discard() }

    /// The background work and the error it ended with.
    final class Job: @unchecked Sendable {
        let body: () throws -> Void
        var error: Error?
        init(_ body: @escaping () throws -> Void) { self.body = body }
        func run() {
            do { try body() } catch { self.error = error }
        }
    }
}
