import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and check editing-method plugins.",
        discussion: examples("canonedit plugins list"), subcommands: [List.self, Check.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plugins found in the build folder and --plugin-path folders.",
            discussion: examples("canonedit plugins list --plugin-path ./my-plugins --json"))
        @Option(name: .customLong("plugin-path"), help: "Extra folder to search (repeatable).") var pluginPath:
            [String] = []
        @Flag(help: "JSON instead of text.") var json = false

        struct Entry: Encodable {
            let id, version, abi, path, description: String; let hyperparameters: [Hyperparameter]
        }

        func validate() throws {
            try requireFolders(pluginPath, "--plugin-path")
        }

        func run() throws {
            let (plugins, skipped) = PluginRegistry.discover(extra: pluginPath)
            if json {
                try printJSON(
                    plugins.map {
                        Entry(
                            id: $0.id, version: $0.version, abi: $0.apiVersion, path: $0.path,
                            description: $0.description, hyperparameters: $0.schema)
                    })
            } else {
                for p in plugins {
                    print("\(p.id) \(p.version) (ABI \(p.apiVersion)) — \(p.description)\n  \(p.path)")
                    for h in p.schema { print("    \(h.name): \(h.summary) — \(h.help)") }
                }
            }
            for s in skipped { stderr("skipped: \(s)") }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin library, validate its descriptor and schema, and run a dry edit on a tiny model.",
            discussion: examples("canonedit plugins check ./libnorm_tune.so"))
        @Argument(help: "Path to the plugin's shared library.") var library: String

        func run() throws {
            try guarded {
                let lib = try PluginLibrary(path: library)
                let report = try PluginCheck.run(lib)
                try printJSON(report)
                if !report.ok { throw ExitCode(1) }
            }
        }
    }
}
