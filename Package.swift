// swift-tools-version:6.0
// canonedit: model editing with canonical examples.
//
// The host is a stack of targets; each may import only the targets below it, so the compiler
// enforces the layers (README: Layout):
//   Support      errors, paths, seeded random, cancellation, checksums, mapped and atomic files
//   Engine       tensors, the kernels bridge, weight files, tokenizers, models, scoring, decoding
//   Setting      records and typed examples, tasks, configs, evaluation and balls, edit sessions
//                and artifacts, the training loop and run records, the ensemble's β search
//   PluginHost   plugin loading, the C service table (one file per service group), plugins check
//   CompanionTraining  distilling and checking a companion Backpack
//   Experiments  one experiment from a config, sweeps, selection, reports, Slurm arrays
//   CLI          the `canonedit` command
// Plugins (Plugins/*) see only the C header (PluginAPI) and PluginKit.
import PackageDescription

// Kernels are hot loops: build them optimised even in debug so that tests on the real
// model run in seconds. Each hot function carries target_clones("arch=x86-64-v3","default"),
// so the binary still runs on any x86-64.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno"])]
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

func host(_ name: String, _ deps: [Target.Dependency], path: String? = nil) -> Target {
    .target(name: name, dependencies: deps, path: path ?? "Sources/Host/\(name)", swiftSettings: v5)
}

func plugin(_ name: String, _ extra: [Target.Dependency] = []) -> Target {
    .target(name: name, dependencies: ["PluginAPI", "PluginKit"] + extra, path: "Plugins/\(name)", swiftSettings: v5)
}

func tests(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .testTarget(name: name, dependencies: deps + ["TestSupport"], path: "Tests/\(name)", swiftSettings: v5)
}

let package = Package(
    name: "canonedit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "canonedit", targets: ["CanonEditCLI"]),
        .library(name: "FullFT", type: .dynamic, targets: ["FullFT"]),
        .library(name: "LoRA", type: .dynamic, targets: ["LoRA"]),
        .library(name: "Senses", type: .dynamic, targets: ["Senses"]),
        .library(name: "MEMIT", type: .dynamic, targets: ["MEMIT"]),
        .library(name: "CondFT", type: .dynamic, targets: ["CondFT"]),
        .library(name: "GRACE", type: .dynamic, targets: ["GRACE"]),
        .library(name: "LoReFT", type: .dynamic, targets: ["LoReFT"]),
        .library(name: "ROME", type: .dynamic, targets: ["ROME"]),
        .library(name: "AlphaEdit", type: .dynamic, targets: ["AlphaEdit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE"),
        .target(name: "PluginAPI", path: "Sources/PluginAPI"),
        .target(name: "Kernels", dependencies: ["CBLAS"], path: "Sources/Host/Kernels", cSettings: kernelFlags),
        host("Support", [.product(name: "Crypto", package: "swift-crypto")]),
        host("Engine", ["Support", "Kernels", "CBLAS"]),
        host("Setting", ["Support", "Engine", "Kernels", "Yams"]),
        host("PluginHost", ["Support", "Engine", "Setting", "PluginAPI", "CLAPACKE", "Kernels"]),
        host("CompanionTraining", ["Support", "Engine", "Setting"]),
        host("Experiments", ["Support", "Engine", "Setting", "PluginHost", "Yams"]),
        .executableTarget(name: "CanonEditCLI",
                          dependencies: ["Support", "Engine", "Setting", "PluginHost", "CompanionTraining",
                                         "Experiments", argumentParser],
                          path: "Sources/Host/CLI", swiftSettings: v5),
        // Stateless Swift helpers over the C header, linked into each Swift plugin.
        .target(name: "PluginKit", dependencies: ["PluginAPI"], path: "Sources/PluginKit", swiftSettings: v5),
        // What MEMIT, ROME and AlphaEdit share (target search, keys, closed forms), linked into each.
        .target(name: "LocateEdit", dependencies: ["PluginAPI", "PluginKit"], path: "Plugins/LocateEdit",
                swiftSettings: v5),
        plugin("FullFT"), plugin("LoRA"), plugin("Senses"), plugin("CondFT"), plugin("GRACE"),
        plugin("MEMIT", ["LocateEdit"]), plugin("ROME", ["LocateEdit"]), plugin("AlphaEdit", ["LocateEdit"]),
        // LoReFT is written in C: the plugin-author guide's second C example, shipped as a plugin.
        .target(name: "LoReFT", dependencies: ["PluginAPI"], path: "Examples/c-plugin", sources: ["loreft.c"], publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("m")]),
        // Fuzz targets for the parsers (scripts/fuzz.sh builds them with libFuzzer).
        .target(name: "FuzzDriver", path: "Fuzz/Driver"),
        .executableTarget(name: "CanonEditFuzz", dependencies: ["Support", "Engine", "Setting", "Experiments", "FuzzDriver"],
                          path: "Fuzz/Harness", swiftSettings: v5 + [.unsafeFlags(["-parse-as-library"])]),
        // Tests mirror the host's targets; shared helpers and fixtures live in Tests/TestSupport.
        .target(name: "TestSupport",
                dependencies: ["Support", "Engine", "Setting", "PluginHost", "Experiments"],
                path: "Tests/TestSupport", exclude: ["Fixtures"], swiftSettings: v5),
        tests("SupportTests", ["Support"]),
        tests("EngineTests", ["Support", "Engine", "Kernels", "Setting"]),
        tests("SettingTests", ["Support", "Engine", "Setting"]),
        tests("PluginHostTests", ["Support", "Engine", "Setting", "PluginHost", "Experiments"]),
        tests("PluginsTests", ["Support", "Engine", "Setting", "PluginHost", "Experiments", "LocateEdit", "CLAPACKE"]),
        tests("CompanionTrainingTests", ["Support", "Engine", "Setting", "PluginHost", "CompanionTraining", "Experiments"]),
        tests("ExperimentsTests", ["Support", "Engine", "Setting", "PluginHost", "Experiments"]),
    ]
)
