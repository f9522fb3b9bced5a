import ArgumentParser
import Foundation

/// The `dato` command line.
@main
struct Dato: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dato",
        abstract: "Stable Diffusion 1.x and 2.x on the CPU, accelerated without retraining.",
        discussion: ComputeEnvironment.help,
        version: "0.1.0",
        subcommands: [Generate.self, Compare.self, Search.self, SearchWorker.self, SearchStatus.self, Score.self, Inspect.self,
                      Serve.self, Bench.self]
    )

    /// Line-buffered output, so progress reaches pipes and log files as it happens.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        Self.main(nil)
    }
}

/// Benchmarks of the engine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the networks (full SD 1.5 or SD 2.1 architecture, random weights).",
        subcommands: [BenchUNet.self, BenchVAE.self, BenchOps.self, BenchPlans.self, BenchPruning.self, BenchNSGA2.self, BenchPrecision.self]
    )
}
