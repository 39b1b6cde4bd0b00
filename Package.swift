// swift-tools-version:6.0
// canonedit: model editing with canonical examples.
//
// Layout (see README.md):
//   Sources/Host/Kernels  C compute kernels (always optimised, AVX2 picked at run time)
//   Sources/Host/Core     HostCore: tensors, models, weight files, tokenizers, training, evaluation
//   Sources/Host/CLI      the `canonedit` command
//   Sources/PluginAPI     the versioned C header that plugins are written against
//   Plugins/*             editing methods, each its own dynamic library
import PackageDescription

// Kernels are hot loops: build them optimised even in debug so that tests on the real
// model run in seconds. Each hot function carries target_clones("arch=haswell","default"),
// so the binary still runs on any x86-64.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno"])]
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE"),
        .target(name: "PluginAPI", path: "Sources/PluginAPI"),
        .target(name: "Kernels", dependencies: ["CBLAS"], path: "Sources/Host/Kernels",
                cSettings: kernelFlags),
        .target(name: "HostCore", dependencies: ["CBLAS", "CLAPACKE", "Kernels", "PluginAPI", "Yams"],
                path: "Sources/Host/Core", swiftSettings: v5),
        .executableTarget(name: "CanonEditCLI",
                          dependencies: ["HostCore",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Host/CLI", swiftSettings: v5),
        // Stateless Swift helpers over the C header, linked into each Swift plugin.
        .target(name: "PluginKit", dependencies: ["PluginAPI"], path: "Sources/PluginKit", swiftSettings: v5),
        .target(name: "FullFT", dependencies: ["PluginAPI", "PluginKit"], path: "Plugins/FullFT", swiftSettings: v5),
        .target(name: "LoRA", dependencies: ["PluginAPI", "PluginKit"], path: "Plugins/LoRA", swiftSettings: v5),
        .target(name: "Senses", dependencies: ["PluginAPI", "PluginKit"], path: "Plugins/Senses", swiftSettings: v5),
        .target(name: "MEMIT", dependencies: ["PluginAPI", "PluginKit"], path: "Plugins/MEMIT", swiftSettings: v5),
        .target(name: "CondFT", dependencies: ["PluginAPI", "PluginKit"], path: "Plugins/CondFT", swiftSettings: v5),
        // Fuzz targets for the parsers (scripts/fuzz.sh builds them with libFuzzer).
        .target(name: "FuzzDriver", path: "Fuzz/Driver"),
        .executableTarget(name: "CanonEditFuzz", dependencies: ["HostCore", "FuzzDriver"], path: "Fuzz/Harness",
                          swiftSettings: v5 + [.unsafeFlags(["-parse-as-library"])]),
        .testTarget(name: "HostTests", dependencies: ["HostCore", "Kernels"],
                    path: "Tests/HostTests", exclude: ["Fixtures"], swiftSettings: v5),
    ]
)
