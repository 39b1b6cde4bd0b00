import Foundation

/// PDF and PNG copies of an SVG figure through `rsvg-convert` (Debian's librsvg2-bin, which
/// scripts/setup.sh installs). Without it the SVG stands alone and the caller is told why.
enum Rasterizer {
    static var tool: String? {
        ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Writes `<stem>.pdf` and `<stem>.png` (at twice the SVG's size) beside `svg`. Returns the
    /// files written, or a note when the tool is missing or fails.
    static func convert(_ svg: String) -> (files: [String], note: String?) {
        guard let tool else { return ([], "rsvg-convert not found (apt-get install librsvg2-bin): SVG only") }
        let stem = (svg as NSString).deletingPathExtension
        var files: [String] = []
        for (format, extra) in [("pdf", [String]()), ("png", ["--zoom", "2"])] {
            let out = stem + "." + format
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = ["-f", format] + extra + ["-o", out, svg]
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { return (files, "rsvg-convert could not start: \(error)") }
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { return (files, "rsvg-convert failed on \(svg) (\(format))") }
            files.append(out)
        }
        return (files, nil)
    }
}
