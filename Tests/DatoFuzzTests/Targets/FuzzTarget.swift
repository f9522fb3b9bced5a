import Foundation

/// One fuzz target: a parser or decoder fed with arbitrary bytes.
///
/// `run` hands one input to the code under test through the entry point `dato` itself uses. Errors thrown
/// by that code are the expected outcome for bad input and are ignored; what a target must never do is
/// crash (a Swift runtime trap, a memory error), hang, or allocate beyond what the input can justify.
/// A target may also stop the process with `FuzzTarget.violation` when a promise of the API is broken.
struct FuzzTarget {
    /// The name `tools/fuzz/run.sh` and the `dato-fuzz` driver use; also the corpus folder's name.
    let name: String
    /// The largest input worth trying (libFuzzer's `-max_len`).
    let maxLength: Int
    /// Feeds one input to the code under test.
    let run: (Data) -> Void

    /// Stops the process: the code under test broke a promise that no input may break.
    static func violation(_ message: String) -> Never {
        FileHandle.standardError.write(Data("dato-fuzz: \(message)\n".utf8))
        abort()
    }
}

/// Every fuzz target, in the order `tools/fuzz/run.sh all` runs them.
enum FuzzTargets {
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "safetensors", maxLength: 8192, run: WeightsTargets.safetensors),
        FuzzTarget(name: "safetensors-header", maxLength: 8192, run: WeightsTargets.safetensorsHeader),
        FuzzTarget(name: "zip", maxLength: 8192, run: WeightsTargets.zip),
        FuzzTarget(name: "unpickle", maxLength: 131_072, run: WeightsTargets.unpickle),
        FuzzTarget(name: "ckpt", maxLength: 8192, run: WeightsTargets.checkpoint),
        FuzzTarget(name: "torch-legacy", maxLength: 8192, run: WeightsTargets.legacyCheckpoint),
        FuzzTarget(name: "png", maxLength: 16384, run: ImageTargets.png),
        FuzzTarget(name: "plan", maxLength: 4096, run: PlanTargets.plan),
        FuzzTarget(name: "config", maxLength: 8192, run: ConfigTargets.config),
        FuzzTarget(name: "tokenizer", maxLength: 4096, run: TokenizerTargets.prompt),
        FuzzTarget(name: "tokenizer-files", maxLength: 16384, run: TokenizerTargets.files),
        FuzzTarget(name: "tokenizer-json", maxLength: 16384, run: TokenizerTargets.json),
    ]

    /// The target called `name`, if any.
    static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}
