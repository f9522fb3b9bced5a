import ArgumentParser
import DatoCore
import DatoPipeline
import DatoSearch
import XCTest
@testable import dato

/// Every command still takes the flags its users and scripts (README, tools/hostile/run.sh, tools/bench) pass,
/// with the same defaults, and a bad value's error names the flag.
final class CommandLineTests: XCTestCase {
    /// The message ArgumentParser prints for `arguments` given to `command`, or nil when they parse.
    private func error<C: ParsableCommand>(_ command: C.Type, _ arguments: [String]) -> String? {
        do {
            _ = try command.parse(arguments)
            return nil
        } catch {
            return command.message(for: error)
        }
    }

    func testGenerateFlags() throws {
        let g = try Generate.parse(["-p", "a red circle", "-n", "blue", "-s", "42", "--steps", "20", "--cfg-scale", "5",
                                    "--scheduler", "euler-a", "--eta", "0.5", "-W", "256", "-H", "128", "-b", "2",
                                    "-o", "out-%d.png", "-t", "2", "-m", "model", "--config", "cfg", "--ema",
                                    "--prediction-type", "v", "--variant", "fp16", "--precision", "bf16", "--conv-direct",
                                    "-v", "--release-text-encoder", "--vae-tiling"])
        XCTAssertEqual(g.promptOptions.prompt, "a red circle")
        XCTAssertEqual(g.promptOptions.negativePrompt, "blue")
        XCTAssertEqual(g.seed, 42)
        XCTAssertEqual(g.steps, 20)
        XCTAssertEqual(g.cfgScale, 5)
        XCTAssertEqual(g.scheduler, .eulerAncestral)
        XCTAssertEqual(g.eta, 0.5)
        XCTAssertEqual(g.width, 256)
        XCTAssertEqual(g.height, 128)
        XCTAssertEqual(g.batchCount, 2)
        XCTAssertEqual(g.output, "out-%d.png")
        XCTAssertEqual(g.threadOptions.threads, 2)
        XCTAssertEqual(g.modelOptions.model, "model")
        XCTAssertEqual(g.modelOptions.config, "cfg")
        XCTAssertTrue(g.modelOptions.ema)
        XCTAssertEqual(g.modelOptions.predictionType, .v)
        XCTAssertEqual(g.modelOptions.variant, "fp16")
        XCTAssertEqual(g.modelOptions.precision, .bf16)
        XCTAssertTrue(g.modelOptions.compute.convolution.direct)
        XCTAssertTrue(g.verbose && g.releaseTextEncoder && g.vaeTiling)

        let d = try Generate.parse(["--prompt-file", "p.txt", "--threads", "3", "--model", "m", "--seed", "-1"])
        XCTAssertEqual(d.promptOptions.promptFile, "p.txt")
        XCTAssertEqual(d.threadOptions.threads, 3)
        XCTAssertEqual(d.modelOptions.model, "m")
        XCTAssertEqual(d.seed, -1)
        XCTAssertEqual(d.steps, 50)
        XCTAssertEqual(d.cfgScale, 7.5)
        XCTAssertNil(d.scheduler)
        XCTAssertEqual(d.output, "output.png")
        XCTAssertEqual(d.modelOptions.precision, .fp32)
        XCTAssertFalse(d.modelOptions.compute.convolution.direct)
        XCTAssertNil(try Generate.parse(["-p", "x"]).threadOptions.threads)
        for scheduler in SchedulerKind.allCases {
            XCTAssertEqual(try Generate.parse(["-p", "x", "--scheduler", scheduler.rawValue]).scheduler, scheduler)
        }
    }

    /// Bad values fail at parsing with a message naming the flag.
    func testBadValuesNameTheFlag() throws {
        let cases: [([String], String)] = [
            (["--scheduler", "nope"], "--scheduler"), (["-t", "0"], "-t/--threads"), (["--threads", "100000"], "-t/--threads"),
            (["--precision", "fp8"], "--precision"), (["--prediction-type", "x0"], "--prediction-type"),
        ]
        for (arguments, flag) in cases {
            let message = try XCTUnwrap(error(Generate.self, ["-p", "x"] + arguments), "\(arguments)")
            XCTAssertTrue(message.contains(flag), "\(arguments): \(message)")
        }
        let scheduler = try XCTUnwrap(error(Generate.self, ["-p", "x", "--scheduler", "nope"]))
        XCTAssertTrue(scheduler.contains("dpm++2m-karras"), scheduler)
        for arguments in [["--space", "width"], ["--cost", "money"], ["--scheduler", "nope"], ["-t", "-2"]] {
            let message = try XCTUnwrap(error(Search.self, ["--prompts", "p.txt"] + arguments), "\(arguments)")
            XCTAssertTrue(message.contains(arguments[0]), "\(arguments): \(message)")
        }
        XCTAssertNotNil(error(BenchPlans.self, ["--scheduler", "plms"]))
        XCTAssertNotNil(error(BenchUNet.self, ["-t", "0"]))
    }

    func testCompareFlags() throws {
        let c = try Compare.parse(["-m", "MODEL", "-p", "a cat", "--seeds", "1,2", "--steps", "50", "--accel", "deepcache:3",
                                   "--accel", "deepcache:5", "-o", "grid.png", "-t", "2", "--scheduler", "ddim",
                                   "--repeats", "3", "-W", "64", "-H", "64", "--cfg-scale", "4", "--precision", "bf16"])
        XCTAssertEqual(c.modelOptions.model, "MODEL")
        XCTAssertEqual(c.seeds, "1,2")
        XCTAssertEqual(c.output, "grid.png")
        XCTAssertEqual(c.threadOptions.threads, 2)
        XCTAssertEqual(c.scheduler, .ddim)
        XCTAssertEqual(c.repeats, 3)
        XCTAssertEqual(c.width, 64)
        XCTAssertEqual(c.cfgScale, 4)
        XCTAssertEqual(c.modelOptions.precision, .bf16)
        XCTAssertNil(try Compare.parse(["-p", "x", "--accel", "deepcache:3"]).scheduler)
    }

    func testSearchFlags() throws {
        let s = try Search.parse(["-m", "MODEL", "--prompts", "prompts.txt", "--seeds", "1,2", "--space", "joint",
                                  "--population", "15", "--generations", "30", "--quality", "ssim", "--cost", "time",
                                  "--max-quality-loss", "0.1", "--journal", "search.sqlite", "--out", "search-out",
                                  "--config", "cfg", "--variant", "fp16", "--prediction-type", "epsilon",
                                  "--scheduler", "euler", "-t", "2", "--depths", "0,1,2,12", "--method", "tome",
                                  "--constrained-sampling", "--no-presets", "--steps", "20", "-W", "64", "-H", "64"])
        XCTAssertEqual(s.location.model, "MODEL")
        XCTAssertEqual(s.location.config, "cfg")
        XCTAssertEqual(s.location.variant, "fp16")
        XCTAssertEqual(s.location.predictionType, .epsilon)
        XCTAssertEqual(s.space, .joint)
        XCTAssertEqual(s.cost, .time)
        XCTAssertEqual(s.scheduler, .euler)
        XCTAssertEqual(s.threadOptions.threads, 2)
        XCTAssertTrue(s.constrainedSampling && s.noPresets)
        // The journal records the same strings as before the flags became enums.
        let settings = s.settings(prompts: ["a"], modelIdentity: "id")
        XCTAssertEqual(settings["space"], "joint")
        XCTAssertEqual(settings["cost"], "time")
        XCTAssertEqual(settings["scheduler"], "euler")
        XCTAssertEqual(settings["model"], "MODEL")
        XCTAssertEqual(settings["prediction_type"], "epsilon")
        let d = try Search.parse(["--resume", "search.sqlite", "--out", "search-out"])
        XCTAssertEqual(d.resume, "search.sqlite")
        XCTAssertEqual(d.space, .depth)
        XCTAssertEqual(d.cost, .flops)
        XCTAssertNil(d.scheduler)
        XCTAssertEqual(d.settings(prompts: [], modelIdentity: "")["scheduler"], "")
        for space in ["depth", "ratio", "joint"] { XCTAssertEqual(try Search.parse(["--space", space]).space.rawValue, space) }
    }

    func testBenchFlags() throws {
        let u = try BenchUNet.parse(["--architecture", "sd21", "--latent", "96", "--precision", "bf16", "--stepped",
                                     "--repeats", "8", "--json", "-t", "2", "--conv-direct", "--depth", "3", "--prune", "dato:0.4"])
        XCTAssertEqual(u.architecture, .sd21)
        XCTAssertEqual(u.latent, 96)
        XCTAssertEqual(u.precision, .bf16)
        XCTAssertTrue(u.stepped && u.json && u.compute.convolution.direct)
        XCTAssertEqual(u.repeats, 8)
        XCTAssertEqual(u.threadOptions.threads, 2)
        let p = try BenchPlans.parse(["--latent", "32", "--steps", "20", "--scheduler", "ddim", "--accel", "deepcache:3",
                                      "--accel", "dato-reference+dato:0.4", "--precision", "bf16", "--skip-full", "--threads", "1"])
        XCTAssertEqual(p.scheduler, .ddim)
        XCTAssertEqual(p.plans, ["deepcache:3", "dato-reference+dato:0.4"])
        XCTAssertEqual(p.precision, .bf16)
        XCTAssertTrue(p.skipFull)
        XCTAssertEqual(p.threadOptions.threads, 1)
        let defaults = try BenchPlans.parse([])
        XCTAssertEqual(defaults.scheduler, .pndm)
        XCTAssertEqual(defaults.precision, .fp32)
        XCTAssertNil(defaults.threadOptions.threads)
        XCTAssertEqual(try BenchOps.parse(["--only", "attention", "--precision", "bf16", "-t", "1"]).precision, .bf16)
        XCTAssertTrue(try BenchVAE.parse(["--latent", "32", "--tiling", "--conv-direct", "-t", "1"]).convolution.direct)
        XCTAssertEqual(try BenchPruning.parse(["--latent", "32", "-t", "1"]).threadOptions.threads, 1)
        XCTAssertEqual(try BenchPrecision.parse(["-m", "m", "--count", "2", "-t", "1"]).threadOptions.threads, 1)
        XCTAssertTrue(try BenchPrecision.parse(["--conv-direct"]).convolution.direct)
        XCTAssertEqual(try Generate.parse(["-p", "x"]).modelOptions.settings().vaePrecision, .fp32)
        XCTAssertEqual(try Generate.parse(["-p", "x", "--precision", "bf16"]).modelOptions.settings().vaePrecision, .bf16,
                       "the VAE follows --precision unless told")
        XCTAssertEqual(try Generate.parse(["-p", "x", "--precision", "bf16", "--vae-precision", "fp32"])
                        .modelOptions.settings().vaePrecision, .fp32)
        XCTAssertTrue(try BenchPruning.parse(["--conv-direct"]).convolution.direct)
    }

    /// The benchmarks that build models from parsed options run (both once read options of a `ConvolutionOptions`
    /// made outside parsing, which ArgumentParser stops with a fatal error).
    func testModelBuildingBenchmarksRun() throws {
        try BenchPruning.parse(["--latent", "8", "--repeats", "1", "-t", "1"]).run()
        try BenchPrecision.parse(["--count", "1", "--steps", "2", "-t", "1"]).run()
    }

    /// The subcommands are reached from the root as before.
    func testRootDispatch() throws {
        XCTAssertTrue(try Dato.parseAsRoot(["generate", "-p", "x", "-t", "1"]) is Generate)
        XCTAssertTrue(try Dato.parseAsRoot(["bench", "unet", "--latent", "16"]) is BenchUNet)
        XCTAssertTrue(try Dato.parseAsRoot(["bench", "plans", "--scheduler", "ddim"]) is BenchPlans)
        XCTAssertTrue(try Dato.parseAsRoot(["search", "--resume", "j.sqlite"]) is Search)
    }
}
