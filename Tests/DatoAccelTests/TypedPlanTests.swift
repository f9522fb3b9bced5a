@testable import DatoAccel
import DatoPipeline
import Foundation
import XCTest

/// Issue 22 item 1: plans carry the parsed pruning method, their text forms round-trip exactly, they are
/// checked against the loaded model's unit count, and a bad plan argument is refused without a model.
final class TypedPlanTests: XCTestCase {
    /// Every option of every method, as a plan's `m:` field writes it.
    static let methods: [String] = ["none", "tome", "dato", "atedm"]
        + ["deterministic", "cross", "mlp", "downsample=2", "deterministic,cross,mlp,downsample=8"].map { "tome," + $0 }
        + ["gamma=1.5", "gamma=-2.50", "alpha=2", "levels=0+1", "levels=2", "cross", "ffn", "noalign", "raw",
           "randomsign", "dynamics", "reference", "reference,levels=0+1+2,cross,ffn"].map { "dato," + $0 }
        + ["levels=0+1+2", "iterations=3", "tolerance=0.01", "recovery=attention", "recovery=similarity", "copyupdate",
           "temporal", "refresh=2", "dsap=0.3", "protect=0", "protect=1", "early=2", "sharedmask",
           "temporal,refresh=3,dsap=0,sharedmask"].map { "atedm," + $0 }

    /// Every preset form (alone and joined with pruning) for PLMS-50 (51 calls), as `dato generate --accel` takes it.
    static let presets: [String] = ["none", "full", "dato-reference", "deepcache:2", "deepcache:3,branch=1",
                                    "deepcache:5,branch=11", "deepcache:3,nonuniform", "deepcache:4,nonuniform,center=20,power=1.6",
                                    "tome:0.5", "dato:0.4", "atedm:0.6", "dato-reference+dato:0.4,levels=0+1",
                                    "deepcache:3+tome:0.5,cross", "atedm:0.6,dsap=0.3", "d:12,2*49,12;r:0.3*50;m:dato,gamma=1.50"]
        + methods.map { "d:12*3,0*48;r:0.5*50;m:" + $0 }

    /// `plan`'s compact text and JSON each read back as the same plan and write the same text again.
    func assertRoundTrips(_ plan: AccelerationPlan, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = plan.description
        let fromText = try AccelerationPlan(compact: text)
        XCTAssertEqual(fromText, plan, label, file: file, line: line)
        XCTAssertEqual(fromText.description, text, label, file: file, line: line)
        XCTAssertEqual(try AccelerationPlan.parse(text, calls: plan.depths.count, steps: max(plan.ratios.count, 1)).description, text, label, file: file, line: line)
        let json = plan.json
        let fromJSON = try JSONDecoder().decode(AccelerationPlan.self, from: Data(json.utf8))
        XCTAssertEqual(fromJSON, plan, label, file: file, line: line)
        XCTAssertEqual(fromJSON.json, json, label, file: file, line: line)
    }

    func testEveryPresetAndMethodOptionRoundTrips() throws {
        for spec in Self.presets {
            try assertRoundTrips(try PlanPresets.resolve(spec, calls: 51, steps: 50), spec)
        }
        for method in Self.methods {
            let plan = try AccelerationPlan(depths: [12, 0, 3], ratios: method == "none" ? [] : [0.25, 0.5], method: method)
            XCTAssertEqual(plan.method, method, "the method's text is kept as written")
            XCTAssertEqual(plan.pruning, try PruningMethod(parsing: method))
            try assertRoundTrips(plan, method)
        }
    }

    /// The compact text and JSON written before plans were typed (the JSON as the synthesized `Codable` of
    /// `depths`, `ratios` and a `method` string wrote it), byte for byte.
    func testTextFormsAreUnchanged() throws {
        let plan = try AccelerationPlan(depths: [12, 2, 2, 12, 0], ratios: [0.4, 0.4, 0.3], method: "dato,levels=0+1")
        XCTAssertEqual(plan.description, "d:12,2*2,12,0;r:0.4*2,0.3;m:dato,levels=0+1")
        XCTAssertEqual(plan.json, #"{"depths":[12,2,2,12,0],"method":"dato,levels=0+1","ratios":[0.4,0.4,0.3]}"#)
        XCTAssertEqual(AccelerationPlan.full(calls: 2).json, #"{"depths":[12,12],"method":"none","ratios":[]}"#)
        XCTAssertEqual(AccelerationPlan.full(calls: 2).description, "d:12*2")
    }

    /// Options are read into typed settings once, when the method is parsed.
    func testMethodsCarryTheirSettings() throws {
        guard case let .dato(d) = try PruningMethod(parsing: "dato,gamma=1.5,levels=0+1,ffn,noalign").settings else {
            return XCTFail("not DaTo settings")
        }
        XCTAssertEqual(d.gamma, 1.5)
        XCTAssertEqual(d.levels, [0, 1])
        XCTAssertTrue(d.pruneFFN)
        XCTAssertFalse(d.alignCFG)
        guard case let .atedm(a) = try PruningMethod(parsing: "at-edm,recovery=similarity,refresh=3,temporal").settings else {
            return XCTFail("not AT-EDM settings")
        }
        XCTAssertEqual(a.recovery, .similarity)
        XCTAssertEqual(a.refreshSteps, 3)
        XCTAssertTrue(a.temporal)
        guard case let .tome(t) = try PruningMethod(parsing: "tome,downsample=2,deterministic").settings else {
            return XCTFail("not ToMe settings")
        }
        XCTAssertEqual(t.maxDownsample, 2)
        XCTAssertFalse(t.useRand)
        XCTAssertEqual(try PruningMethod(parsing: "none").settings, .none)
        XCTAssertNil(AccelerationPlan.full(calls: 3).pruning.makePolicy(seed: 1))
        // A method that does not parse makes no plan (it never becomes "none").
        XCTAssertThrowsError(try JSONDecoder().decode(AccelerationPlan.self, from: Data(#"{"depths":[12],"method":"dato,bogus"}"#.utf8)))
        XCTAssertThrowsError(try AccelerationPlan(depths: [12], method: "prune"))
    }

    // MARK: the model's unit count

    func testDepthsBeyondTheModelsUnitsAreRefused() throws {
        XCTAssertThrowsError(try AccelerationPlan.parse("d:12,2,8,12", calls: 4, steps: 4, units: 6)) { error in
            let text = "\(error)"
            for part in ["depth 8 of call 2", "6 units", "1...5", "12 for full", "'d:12,2,8,12'"] {
                XCTAssertTrue(text.contains(part), "'\(part)' missing in: \(text)")
            }
        }
        for depth in 6...11 {
            XCTAssertThrowsError(try AccelerationPlan.parse("d:12,\(depth)", calls: 2, steps: 2, units: 6), "depth \(depth)")
        }
        for depth in [0, 1, 5, 12] {
            XCTAssertEqual(try AccelerationPlan.parse("d:12,\(depth)", calls: 2, steps: 2, units: 6).depths, [12, depth])
        }
        // SD 1.x/2.x (12 units) and the default keep every depth 0...12.
        XCTAssertEqual(try AccelerationPlan.parse("d:12,11", calls: 2, steps: 2, units: 12).depths, [12, 11])
        XCTAssertEqual(try AccelerationPlan.parse("d:12,11", calls: 2, steps: 2).depths, [12, 11])
        // DeepCache's branch depth is checked against the units too.
        XCTAssertThrowsError(try PlanPresets.resolve("deepcache:2,branch=4", calls: 6, steps: 6, units: 4)) { error in
            XCTAssertTrue("\(error)".contains("deepcache branch=4: this model's UNet has 4 units; use branch=1...3"), "\(error)")
        }
        XCTAssertEqual(try PlanPresets.resolve("deepcache:2,branch=3", calls: 4, steps: 4, units: 4).depths, [12, 3, 12, 3])
        XCTAssertEqual(try PlanPresets.resolve("dato-reference", calls: 51, steps: 50, units: 4).depths.max(), 12)
    }

    /// The tiny fixture UNet has 4 units: a partial depth 4...11 is refused by the pipeline, valid plans run,
    /// and a plan handed over already made (as the search does) gives the same image as its text.
    func testThePipelineChecksPlansAgainstItsUNet() throws {
        let dir = CachingTests.fixtures.appendingPathComponent("DatoPipelineTests/Fixtures/tiny-sd").path
        let pipe = try StableDiffusionPipeline.load(path: dir)
        XCTAssertEqual(pipe.models.unet.unitCount, 4)
        var r = GenerationRequest(prompt: "a blue square")
        r.width = 32; r.height = 32; r.steps = 3; r.seed = 1; r.scheduler = .ddim
        for bad in ["d:12,4,12", "d:12,3,11", "deepcache:2,branch=5"] {
            r.plan = bad
            XCTAssertThrowsError(try pipe.generate(r), bad) { error in
                XCTAssertTrue("\(error)".contains("this model's UNet has 4 units"), "\(error)")
            }
        }
        r.plan = "d:12,3,0;r:0.5*3;m:tome"
        let fromText = try pipe.generate(r)
        XCTAssertEqual(fromText.plan.depths, [12, 3, 0])
        r.plan = nil
        r.accelerationPlan = try AccelerationPlan(depths: [12, 3, 0], ratios: [0.5, 0.5, 0.5], method: "tome")
        XCTAssertEqual(try pipe.generate(r).pixels, fromText.pixels)
        r.accelerationPlan = try AccelerationPlan(depths: [12, 6, 0])
        XCTAssertThrowsError(try pipe.generate(r)) { XCTAssertTrue("\($0)".contains("depth 6 of call 1"), "\($0)") }
        r.plan = "none"
        r.accelerationPlan = try AccelerationPlan(depths: [12, 1, 0])
        XCTAssertThrowsError(try pipe.generate(r)) { XCTAssertTrue("\($0)".contains("not both"), "\($0)") }
    }

    // MARK: refused before a model loads

    /// What `dato generate/compare --accel` check in `validate()`: syntax, method, options and ratio ranges,
    /// with no model.
    func testBadPlanArgumentsAreRefusedWithoutAModel() {
        for (spec, fragment) in [("d:12;x:1", "unknown field"), ("d:12,two", "not an integer"), ("deepcache:", "interval"),
                                 ("prune:0.5", "not a preset"), ("d:12;m:prune", "unknown pruning method"),
                                 ("dato:0.4,bogus", "unknown or malformed dato option"), ("tome:0.9", "above its limit"),
                                 ("d:12;r:0.9;m:dato", "outside 0...0.75"), ("atedm:1.5", "must be a number in [0, 1)"),
                                 ("d:12,13", "outside 0...12")] {
            XCTAssertThrowsError(try PlanPresets.check(spec, steps: 1), spec) { error in
                XCTAssertTrue(error is PlanError, "\(spec): \(error)")
                XCTAssertTrue("\(error)".contains(fragment), "\(spec): expected '\(fragment)' in \(error)")
            }
        }
    }
}
