import DatoCore
import DatoModels
@testable import DatoPipeline
import Foundation
import XCTest

/// Extreme steps and hostile scheduler configs (issue 20): every request either runs with finite latents and
/// every timestep inside the training schedule, or is refused up front with an error naming the field.
final class SchedulerEdgeCaseTests: XCTestCase {
    /// Runs every call of `s` on small latents with a dummy model output and checks they stay finite.
    func runAll(_ s: Scheduler, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var g = TorchGenerator(seed: 3)
        var latents = LatentMath.map(g.randnNHWC([1, 2, 2, 4])) { $0 * s.initNoiseSigma }
        for k in 0..<s.callCount {
            let input = s.scaleModelInput(latents, call: k)
            let out = LatentMath.map(input) { 0.5 * $0 }
            latents = try s.step(out, call: k, sample: latents, noise: &g)
        }
        XCTAssertNil(NonFiniteCheck.scan(latents), "\(what): timesteps \(s.timesteps)", file: file, line: line)
    }

    /// Makes `kind` from `config`; either it runs (finite) or it throws a `SchedulerError` naming a field.
    func runOrRefuse(_ kind: SchedulerKind, _ config: SchedulerConfig, steps: Int, eta: Float = 0) throws -> String? {
        do {
            let s = try kind.make(config: config, steps: steps, eta: eta)
            try runAll(s, "\(kind.rawValue) \(steps) steps, \(config.timestepSpacing ?? "-") offset \(config.stepsOffset ?? 0)")
            return nil
        } catch let e as SchedulerError {
            return e.field
        }
    }

    /// 1000 steps with steps_offset 1 (SD 1.5's config): DDIM and PNDM would read alphas_cumprod[1000].
    func testThousandStepsWithStepsOffset() throws {
        for kind in SchedulerKind.allCases {
            let refused = try runOrRefuse(kind, .sd15, steps: 1000)
            switch kind {
            case .ddim, .pndm, .dpmpp2m, .dpmpp2mKarras: XCTAssertEqual(refused, "steps", kind.rawValue)
            case .euler, .eulerAncestral: XCTAssertNil(refused, kind.rawValue)
            }
        }
        XCTAssertThrowsError(try SchedulerKind.ddim.make(config: .sd15, steps: 1000)) {
            XCTAssertTrue("\($0)".contains("at most 999 steps"), "\($0)")
        }
        XCTAssertNoThrow(try runAll(try SchedulerKind.ddim.make(config: .sd15, steps: 999), "ddim 999"))
        XCTAssertNoThrow(try runAll(try SchedulerKind.pndm.make(config: .sd15, steps: 999), "pndm 999"))
    }

    /// Every spacing rule at every step count near the training steps keeps its timesteps in range or refuses.
    func testEverySpacingNearTheLimit() throws {
        for spacing in ["leading", "linspace", "trailing"] {
            for offset in [0, 1, 5] {
                var c = SchedulerConfig.sd15
                c.timestepSpacing = spacing
                c.stepsOffset = offset
                c.numTrainTimesteps = 20
                for kind in SchedulerKind.allCases {
                    for steps in 1...21 { _ = try runOrRefuse(kind, c, steps: steps) }
                }
            }
        }
    }

    func testTwoTrainingSteps() throws {
        var c = SchedulerConfig.sd15
        c.numTrainTimesteps = 2
        for kind in SchedulerKind.allCases {
            for steps in 1...3 { _ = try runOrRefuse(kind, c, steps: steps) }
            XCTAssertEqual(try runOrRefuse(kind, c, steps: 3), "steps", kind.rawValue)
        }
    }

    func testHostileScheduleValuesAreRefused() throws {
        func refused(_ change: (inout SchedulerConfig) -> Void) -> String? {
            var c = SchedulerConfig.sd15
            change(&c)
            do { try c.validate() } catch let e as SchedulerError { return e.field } catch { return "\(error)" }
            return nil
        }
        XCTAssertEqual(refused { $0.stepsOffset = -1 }, "steps_offset")
        XCTAssertEqual(refused { $0.stepsOffset = 1000 }, "steps_offset")
        XCTAssertEqual(refused { $0.stepsOffset = Int.max }, "steps_offset")
        XCTAssertEqual(refused { $0.numTrainTimesteps = 1 }, "num_train_timesteps")
        XCTAssertEqual(refused { $0.numTrainTimesteps = -5 }, "num_train_timesteps")
        XCTAssertEqual(refused { $0.numTrainTimesteps = 1_000_000_000 }, "num_train_timesteps")
        XCTAssertEqual(refused { $0.betaEnd = 1 }, "beta_end")
        XCTAssertEqual(refused { $0.betaEnd = 2 }, "beta_end")
        XCTAssertEqual(refused { $0.betaEnd = .nan }, "beta_end")
        XCTAssertEqual(refused { $0.betaStart = 0 }, "beta_start")
        XCTAssertEqual(refused { $0.betaStart = 0.5 }, "beta_end")
        XCTAssertEqual(refused { $0.trainedBetas = Array(repeating: 0.01, count: 999) + [.nan] }, "trained_betas")
        XCTAssertEqual(refused { $0.trainedBetas = [0.01, 0.02] }, "trained_betas")
        XCTAssertEqual(refused { $0.clipSampleRange = -1 }, "clip_sample_range")
        // Legal betas whose product underflows: the noise levels would be infinite.
        var c = SchedulerConfig.sd15
        c.betaSchedule = "linear"
        c.betaStart = 0.5
        c.betaEnd = 0.9
        c.numTrainTimesteps = 100_000
        for kind in SchedulerKind.allCases {
            XCTAssertThrowsError(try kind.make(config: c, steps: 10)) { XCTAssertTrue("\($0)".contains("beta_end"), "\($0)") }
        }
    }

    /// A file's bad value is reported with the file and the field.
    func testBadConfigFileNamesFileAndField() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dato-sched-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"_class_name": "DDIMScheduler", "steps_offset": -1}"#.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SchedulerConfig.load(path)) { error in
            guard case let ModelError.config(file, field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, path)
            XCTAssertEqual(field, "steps_offset")
        }
    }

    /// An unknown `_class_name` is an error naming the file and the field, not PNDM; a scheduler chosen by the
    /// request still works with the config's values.
    func testUnknownClassNameIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dato-sched-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"_class_name": "LMSDiscreteScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let config = try SchedulerConfig.load(path)
        XCTAssertThrowsError(try SchedulerKind(modelConfig: config)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("_class_name"), "\(error)")
            XCTAssertTrue("\(error)".contains("LMSDiscreteScheduler"), "\(error)")
        }
        XCTAssertThrowsError(try SchedulerKind(modelConfig: SchedulerConfig()))   // none named
        for kind in SchedulerKind.allCases {
            var named = SchedulerConfig.sd15
            named.className = kind.className
            named.useKarrasSigmas = kind == .dpmpp2mKarras
            XCTAssertEqual(try SchedulerKind(modelConfig: named), kind)
        }
    }

    /// Through the pipeline: the model's unknown scheduler class is an error naming its file, unless the request
    /// names a scheduler.
    func testPipelineRefusesAnUnknownModelScheduler() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-sched-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tiny-sd").path,
                                         toPath: folder)
        let path = "\(folder)/scheduler/scheduler_config.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "PNDMScheduler", with: "FancyScheduler")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let pipe = try StableDiffusionPipeline.load(path: folder)
        var request = GenerationRequest(prompt: "a red square")
        request.width = 64
        request.height = 64
        request.steps = 2
        XCTAssertThrowsError(try pipe.generate(request)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("_class_name"), "\(error)")
        }
        request.scheduler = .ddim
        XCTAssertNoThrow(try pipe.generate(request))
    }

    func testEtaOutsideItsRangeIsRefused() {
        for eta: Float in [-0.1, 1.5, 1e10, .nan, .infinity] {
            XCTAssertThrowsError(try SchedulerKind.ddim.make(config: .sd15, steps: 10, eta: eta), "\(eta)") {
                XCTAssertTrue("\($0)".contains("eta"), "\($0)")
            }
        }
        XCTAssertNoThrow(try runAll(try SchedulerKind.ddim.make(config: .sd15, steps: 10, eta: 1), "eta 1"))
    }
}
