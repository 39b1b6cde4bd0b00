import ArgumentParser
import CompanionTraining
import Engine
import Experiments
import Foundation
import Kernels
import PluginHost
import Setting
import Support

/// `canonedit`: model editing with canonical examples.
struct CanonEdit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canonedit",
        abstract: "Edit a language model from canonical examples while keeping its general loss in a degradation ball.",
        discussion: """
            Models: --model takes a built-in name (smollm2), a GGUF file, or a Hugging Face folder \
            (config.json, *.safetensors, tokenizer.json). Output: run prints a table (its results as JSON with \
            --json), report Markdown (JSON with --json), senses show text (JSON with --json), plugins list text \
            (JSON with --json); every other command prints JSON. Progress, warnings and errors go to stderr. \
            Products run on OpenBLAS's AVX-512 kernels (SkylakeX) when the processor has AVX-512 and OpenBLAS \
            chose AVX2 ones; CANONEDIT_BLAS_CORE names the kernels (as OPENBLAS_CORETYPE does), or openblas keeps \
            OpenBLAS's choice. Kernels round differently: results repeat bit for bit on the same kernels.
            """ + "\n\n"
                + examples(
                    "canonedit run configs/builtin/smollm2-country_capital-lora.yaml", "canonedit help run",
                    "canonedit --version") + "\n\n" + exitCodes,
        version: VersionText.text,
        subcommands: [
            Run.self, BenchmarkCommand.self, SweepCommand.self, Select.self, Report.self, Ensemble.self,
            SensesCommand.self, CompanionCommand.self, Eval.self, GeneralLoss.self, Corpus.self, Logits.self,
            Score.self, NLL.self,
            Generate.self, BenchCommand.self, Export.self, Import.self, Plugins.self, DataCommand.self, StatsCommand.self,
        ])
}

/// Options every model command shares.
struct ModelOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Built-in model name (smollm2, gemma3), GGUF file, Hugging Face or companion folder, a Hugging Face id "
                + "ORG/NAME found in the local hub cache, or an ensemble spec (.yaml).", valueName: "model"))
    var model: String = "smollm2"

    @Option(name: .long, help: "Threads for matrix products and loops (default: OPENBLAS_NUM_THREADS, else 2).")
    var threads: Int?

    func validate() throws {
        try requireThreads(threads)
    }

    func load() throws -> LoadedModel {
        setBlasThreads(threads)
        return try ModelLoader.load(model)
    }
}

/// The threads products and loops split over (OpenBLAS itself runs one): the option, else
/// OPENBLAS_NUM_THREADS, else 2.
func setBlasThreads(_ threads: Int?) {
    Blas.setThreads(threads ?? ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"].flatMap(Int.init) ?? 2)
}

/// --threads: 1…Blas.maxThreads.
func requireThreads(_ threads: Int?) throws {
    try require(
        (1...Blas.maxThreads).contains(threads ?? 1), "--threads must be 1…\(Blas.maxThreads), not \(threads ?? 0)")
}

/// Option checks: a failure is a usage error (exit 64) naming the option.
func require(_ ok: Bool, _ message: @autoclosure () -> String) throws {
    if !ok { throw ValidationError(message()) }
}

/// A degradation ball's ε: a finite number in (0, 1).
func requireBall(_ eps: Double, _ option: String) throws {
    try require(
        eps.isFinite && eps > 0 && eps < 1, "\(option) must be a number between 0 and 1 (like 1e-4), not \(eps)")
}

/// Every folder must exist (a typo would otherwise be ignored silently).
func requireFolders(_ folders: [String], _ option: String) throws {
    for f in folders {
        var isDir: ObjCBool = false
        try require(
            FileManager.default.fileExists(atPath: f, isDirectory: &isDir) && isDir.boolValue,
            "\(option) \(f): no such folder")
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

func stderr(_ s: String) { ProgressPrinter.line(s) }

/// Turns our errors into a one-line message and exit code 1 instead of a stack of types.
func guarded<T>(_ f: () throws -> T) throws -> T {
    do { return try f() } catch let e as CanonEditError {
        stderr("error: \(e.message)")
        throw ExitCode(Cancellation.isRequested ? Cancellation.exitStatus : 1)
    }
}

Cancellation.install()
ce_map_large_allocations()
// Edit files applied anywhere (ensemble specs too) ask the plugin they name what it may change.
EditSession.defaultMethodChanges = { EditPolicy.methodChanges(model: $0) }
// Before any product: choosing the kernels swaps OpenBLAS's kernel table.
do { Blas.kernelChoice = try Blas.chooseKernels() } catch let e as CanonEditError {
    stderr("error: \(e.message)")
    exit(64)
}
CanonEdit.main()
