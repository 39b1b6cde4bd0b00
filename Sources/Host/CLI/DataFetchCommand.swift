import ArgumentParser
import Experiments
import Foundation
import Support

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Data sets canonedit reads but does not ship.", subcommands: [Fetch.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fetch",
            abstract: "Download the authors' data at a pinned commit and check every file's SHA-256.",
            discussion: """
                SOURCE is authors: the repository of Hewitt et al. \
                (github john-hewitt/model-editing-canonical-examples) at the commit canonedit's benchmark specs were written against. Every task's split files and \
                data/val100.jsonl are written under DIR in the repository's layout (DIR/data/<task>/split/...), \
                after each file's SHA-256 is checked; nothing is written if one differs. --url takes another \
                https or file URL of the same archive (a mirror, or a copy made elsewhere).
                """ + "\n\n" + examples("canonedit data fetch authors data/authors"))
        @Argument(help: "What to fetch: authors.") var source: String
        @Argument(help: "Folder to write it into.") var folder: String
        @Option(help: "The archive's URL (default: the repository's archive at the pinned commit).") var url: String?

        func validate() throws { try require(source == "authors", "SOURCE must be authors, not \(source)") }

        func run() throws {
            try guarded {
                try AuthorsData.fetch(url: url ?? AuthorsData.defaultURL, into: folder, progress: { stderr($0) })
            }
        }
    }
}
