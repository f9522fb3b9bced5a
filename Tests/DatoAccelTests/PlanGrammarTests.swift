@testable import DatoAccel
import Foundation
import XCTest

/// The plan grammar: every plan dato writes reads back to the same plan, and every malformed plan text gives
/// one `PlanError` naming the plan, never a trap (`AccelerationPlan.parse` is the fuzzing entry point).
final class PlanGrammarTests: XCTestCase {
    /// A small deterministic generator (SplitMix64) for the property and fuzz tests.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ list: [T]) -> T { list[below(list.count)] }
    }

    /// Options of each pruning method, each valid alone.
    static let options: [String: [String]] = [
        "tome": ["deterministic", "cross", "mlp", "downsample=2", "downsample=8"],
        "dato": ["gamma=2.5", "gamma=-1", "alpha=0.5", "levels=0+1", "levels=0+1+2", "levels=3", "cross", "ffn", "noalign",
                 "raw", "randomsign", "reference", "dynamics"],
        "atedm": ["levels=0+1", "iterations=5", "tolerance=0.01", "recovery=attention", "recovery=similarity", "copyupdate",
                  "temporal", "refresh=3", "dsap=0.3", "protect=0", "protect=1", "early=2", "sharedmask", "share=none",
                  "share=mask", "share=sources", "copy=state", "copy=update", "features=input", "features=attn1",
                  "gwpr=received", "gwpr=given", "gwpr=reverse", "mask=attn1", "mask=ffn", "stages=up", "stages=down+mid+up", "damping=0.85",
                  "self=0", "self=1", "normalize=columns", "normalize=rows", "cfgscores=cond", "cfgscores=mean"],
    ]

    /// The first option of each key.
    static func distinctKeys(_ options: [String]) -> [String] {
        var seen: Set<Substring> = []
        return options.filter { seen.insert($0.split(separator: "=")[0]).inserted }
    }

    /// `parse(describe(plan)) == plan`, the JSON form too, and the description is stable.
    func assertRoundTrip(_ plan: AccelerationPlan, steps: Int, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        let calls = plan.depths.count
        do {
            let again = try AccelerationPlan.parse(plan.description, calls: calls, steps: steps)
            XCTAssertEqual(again, plan, "\(context): \(plan.description)", file: file, line: line)
            XCTAssertEqual(again.description, plan.description, context, file: file, line: line)
            XCTAssertEqual(try AccelerationPlan.parse(plan.json, calls: calls, steps: steps), plan, "\(context): \(plan.json)", file: file, line: line)
            XCTAssertEqual(try AccelerationPlan(compact: plan.description), plan, context, file: file, line: line)
        } catch {
            XCTFail("\(context): \(plan.description) does not read back: \(error)", file: file, line: line)
        }
    }

    func testPresetsAndPruningRoundTrip() throws {
        var count = 0
        for steps in [1, 2, 10, 20, 50, 51] {
            for calls in [steps, steps + 1] {
                var specs = ["none", "full"] + (1...6).flatMap { n in
                    ["deepcache:\(n)", "deepcache:\(n),branch=\(n)", "deepcache:\(n),nonuniform", "deepcache:\(n),nonuniform,center=\(steps / 3),power=1.2"]
                }
                if calls == 51 { specs.append("dato-reference") }
                let pruning = Self.options.flatMap { name, options in
                    ["\(name)", "\(name):0.3"] + options.map { "\(name):0.25,\($0)" } + ["\(name),\(Self.distinctKeys(options).joined(separator: ","))"]
                }
                specs += pruning + pruning.map { "deepcache:2+\($0)" }
                for spec in specs {
                    let plan: AccelerationPlan
                    do {
                        plan = try AccelerationPlan.parse(spec, calls: calls, steps: steps)
                    } catch let error as PlanError {
                        // Non-uniform schedules need a centre below the steps (and not every count has one).
                        XCTAssertTrue(spec.contains("nonuniform"), "\(spec) at \(steps) steps: \(error)")
                        continue
                    }
                    assertRoundTrip(plan, steps: steps, "\(spec) at \(steps) steps, \(calls) calls")
                    let text = plan.description
                    XCTAssertEqual(try AccelerationPlan.parse(text, calls: calls, steps: steps).description, text)
                    count += 1
                }
            }
        }
        XCTAssertGreaterThan(count, 1000)
    }

    func testRandomPlansRoundTrip() throws {
        var random = Random(state: 20)
        for i in 0..<1000 {
            let steps = 1 + random.below(i % 10 == 0 ? 1000 : 60)
            let calls = steps + random.below(2)
            let depthValues = random.below(4) == 0 ? Array(0...12) : [0, 1, 2, 12]
            let depths = [12] + (1..<calls).map { _ in random.pick(depthValues) }
            let name = random.pick(["none", "tome", "dato", "atedm", "at-edm"])
            let canonical = name == "at-edm" ? "atedm" : name
            let options = Self.distinctKeys(Self.options[canonical].map { list in (0..<random.below(4)).map { _ in random.pick(list) } } ?? [])
            let method = ([random.below(2) == 0 ? name.uppercased() : name] + options).joined(separator: ", ")
            let limit = canonical == "atedm" || canonical == "none" ? 0.95 : 0.75
            let ratios: [Float] = name == "none" && random.below(2) == 0 ? [] : (0..<steps).map { _ in
                switch random.below(4) {
                case 0: return Float(random.below(8)) / 10
                case 1: return Float(Double(random.next() % 1_000_000) / 1e6 * limit)
                case 2: return Float(random.below(20)) / 20 * Float(limit)
                default: return Float(random.below(1000)) / 1e7   // tiny ratios, written as 1e-05 and the like
                }
            }
            let plan = try AccelerationPlan(depths: depths, ratios: ratios, method: method)
            XCTAssertEqual(plan.method, ([canonical] + options).joined(separator: ","))
            assertRoundTrip(plan, steps: steps, "random plan \(i)")
        }
    }

    /// Plans as a user types them: the description of what they read as is a fixed point.
    func testDescriptionsOfTypedPlansAreStable() throws {
        let typed = ["d:12, 2*2 ,12;r: 0.4*2,0.30*1,.5;m: DATO , Levels=0+1", "d:+12,0*3;r:-0*2,0.1*2;m:at-edm,temporal",
                     "  deepcache:3 + Tome:0.5 , cross  ", "d:12*4;r:0.12345678*4;m:tome", "{\"depths\":[12,1,0,1],\"ratios\":[0.1,0.2,0.3,1e-7]}"]
        for text in typed {
            let plan = try AccelerationPlan.parse(text, calls: 4, steps: 4)
            let again = try AccelerationPlan.parse(plan.description, calls: 4, steps: 4)
            XCTAssertEqual(again, plan, text)
            XCTAssertEqual(again.description, plan.description, text)
        }
        XCTAssertEqual(try AccelerationPlan.parse(typed[0], calls: 4, steps: 4).description, "d:12,2*2,12;r:0.4*2,0.3,0.5;m:dato,levels=0+1")
        XCTAssertEqual(try AccelerationPlan.parse(typed[1], calls: 4, steps: 4).description, "d:12,0*3;r:0*2,0.1*2;m:atedm,temporal")
    }

    func testErrorsNameThePlanAndTheBadPart() {
        let bad: [(String, String)] = [
            ("", "the plan is empty"), ("   ", "the plan is empty"), ("d:", "is not 'value'"), ("d:12;r:", "is not 'value'"),
            ("d:12,x", "depth 'x' in field 'd:' is not an integer"), ("d:12;r:nan", "ratio 'nan' in field 'r:' is not a finite number"),
            ("d:12;r:inf", "not a finite number"), ("d:12;r:1e40", "not a finite number"), ("d:12*0", "count '0'"),
            ("d:12*-3", "count '-3'"), ("d:12*2*2", "is not 'value' or 'value*count'"), ("d:*2", "is not 'value'"),
            ("d:12*99999999999999999999", "count '99999999999999999999'"), ("d:12;r:0.96;m:atedm", "outside 0...0.95"),
            ("d:12;r:-0.1", "outside"), ("dato:1", "must be a number in [0, 1)"), ("dato:0.8", "above its limit 0.75"),
            ("dato:nan", "dato ratio 'nan'"), ("dato:-0.1", "[0, 1)"), ("tome:0.5,downsample=9", "downsample=9"),
            ("dato:0.4,gamma=nan", "gamma=nan"), ("dato:0.4,gamma=inf", "gamma=inf"), ("atedm:0.5,recovery=magic", "recovery=magic"),
            ("atedm:0.5,share=all", "share=all"), ("atedm:0.5,copy=both", "copy=both"), ("atedm:0.5,gwpr=rows", "gwpr=rows"),
            ("atedm:0.5,stages=left", "stages=left"), ("atedm:0.5,stages=up+", "stages=up+"),
            ("atedm:0.5,protect=2", "protect=2"), ("dato:0.4,levels=8", "levels=8"), ("dato:0.4,levels=", "levels="),
            ("dato:0.4,levels=0+1+tome:0.5", "levels="), ("deepcache:3+magic:0.4", "interval"),
            ("deepcache:3+dato-reference", "interval"), ("magic", "is not a preset"), ("d:12;q:1", "unknown field 'q'"),
            ("d:12;m:dato,=1", "has no name"), ("deepcache:３", "interval"), ("d:12，0", "is not an integer"),
            ("deepcache:3,branch=2\u{202E}", "branch"), ("d:12;m:dato\u{0}", "control character"), ("dato:0.4,gamma=1\u{0};x", "control character"),
            ("{\"depths\": [12, 13]}", "outside 0...12"), ("{\"depths\": [1e300]}", "not a plan JSON"),
            ("{\"depths\": [12], \"ratios\": [1e300]}", "not a plan JSON"), ("{\"depths\": []}", "no depths"),
            ("{\"depths\": [12], \"method\": \"magic\"}", "unknown pruning method"), ("{", "not a plan JSON"),
            ("{\"depths\": [12] } trailing", "not a plan JSON"),
            ("{\"depths\": " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}", "not a plan JSON"),
            ("{\"depths\": [" + Array(repeating: "12", count: 10_001).joined(separator: ",") + "]}", "at most 10000"),
            ("d:12;m:" + String(repeating: "a", count: 5000), "at most 4096"),
            (String(repeating: "+", count: 200_000), "is not a preset"), (String(repeating: "d:12;", count: 5), "given twice"),
            ("d:12" + String(repeating: ",", count: 300_000), "is not 'value'"),
            (String(repeating: "x", count: (1 << 20) + 1), "bytes long"),
            ("d:12" + String(repeating: "\u{301}", count: 300_000), "is not an integer"),
            ("dato:0.4,gamma=1" + String(repeating: "\u{202E}", count: 1000), "gamma=1\\u{202e}"),
        ]
        for (spec, fragment) in bad {
            XCTAssertThrowsError(try AccelerationPlan.parse(spec, calls: 1, steps: 1), String(spec.prefix(60))) { error in
                guard let e = error as? PlanError else { return XCTFail("\(spec.prefix(60)): \(type(of: error)) \(error)") }
                XCTAssertEqual(e.plan, spec, String(spec.prefix(60)))
                XCTAssertTrue(e.description.hasPrefix("invalid acceleration plan '\(PlanError.excerpt(spec, limit: 80))': "), e.description)
                XCTAssertTrue(e.message.contains(fragment), "\(spec.prefix(60)): expected '\(fragment)' in \(e.message)")
                XCTAssertLessThan(e.description.count, 700, "\(spec.prefix(60)): the message should be short")
            }
        }
    }

    /// Random texts from the grammar's pieces: each reads as a plan that round-trips, or gives one `PlanError`
    /// naming the plan; nothing traps.
    func testFuzzedPlansNeverTrap() {
        let pieces = ["d:", "r:", "m:", ";", ",", "*", "+", "=", ":", " ", "12", "0", "1", "2", "11", "13", "-1", "0.4", "0.75",
                      "1e-5", "nan", "inf", "-inf", "1e300", "9223372036854775807", "99999", "2*", "*3", "deepcache:", "nonuniform",
                      "center=", "power=", "branch=", "dato", "tome", "atedm", "at-edm", "none", "full", "dato-reference",
                      "levels=0+1", "gamma=", "cross", "temporal", "{", "}", "[", "]", "\"depths\"", "\"ratios\"", "\"method\"",
                      "\u{0}", "é", "🙂", "\u{301}", "\n", "\t", "１"]
        var random = Random(state: 7)
        var parsed = 0
        for _ in 0..<20_000 {
            let text = (0..<(1 + random.below(12))).map { _ in random.pick(pieces) }.joined()
            let steps = 1 + random.below(60), calls = steps + random.below(2)
            do {
                let plan = try AccelerationPlan.parse(text, calls: calls, steps: steps)
                parsed += 1
                assertRoundTrip(plan, steps: steps, "fuzzed \(text.debugDescription)")
            } catch let e as PlanError {
                XCTAssertEqual(e.plan, text)
            } catch {
                XCTFail("\(text.debugDescription): not a PlanError: \(error)")
            }
        }
        XCTAssertGreaterThan(parsed, 100)
    }

    /// `parse` reads no files; `resolve` reads only bounded regular files.
    func testFilesAreReadOnlyByResolve() throws {
        XCTAssertThrowsError(try AccelerationPlan.parse("/dev/zero", calls: 1, steps: 1)) { XCTAssertTrue("\($0)".contains("is not a preset"), "\($0)") }
        for path in ["/dev/zero", "/dev/null", "/dev/urandom", "/"] {
            XCTAssertThrowsError(try PlanPresets.resolve(path, calls: 1, steps: 1)) { XCTAssertTrue("\($0)".contains("is not a regular file"), "\($0)") }
        }
        XCTAssertThrowsError(try PlanPresets.resolve("/dev/zero\u{0}x", calls: 1, steps: 1)) { XCTAssertTrue("\($0)".contains("is not a preset"), "\($0)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = try AccelerationPlan(depths: [12, 0, 2], ratios: [0.4, 0.3], method: "dato,levels=0+1")
        let file = dir.appendingPathComponent("p.json")
        try Data(plan.json.utf8).write(to: file)
        XCTAssertEqual(try PlanPresets.resolve(file.path, calls: 3, steps: 2), plan)
        XCTAssertThrowsError(try PlanPresets.resolve(file.path + "+tome:0.5", calls: 3, steps: 2)) { error in
            XCTAssertTrue("\(error)".contains("already has pruning"), "\(error)")
        }
        let depthsOnly = dir.appendingPathComponent("depths.json")
        try Data("{\"depths\": [12, 0, 2]}".utf8).write(to: depthsOnly)
        XCTAssertEqual(try PlanPresets.resolve(depthsOnly.path + " + tome:0.5", calls: 3, steps: 2),
                       try AccelerationPlan(depths: [12, 0, 2], ratios: [0.5, 0.5], method: "tome"))
        XCTAssertThrowsError(try AccelerationPlan.parse(file.path, calls: 3, steps: 2))
        try Data("{\"depths\": [12, 0, 2], \"extra\": 1}".utf8).write(to: file)
        XCTAssertThrowsError(try PlanPresets.resolve(file.path, calls: 3, steps: 2)) { error in
            XCTAssertTrue("\(error)".contains("plan file '\(file.path)': unknown key 'extra'"), "\(error)")
        }
    }

    /// What the CLI checks before loading a model, knowing the steps but not the sampler's calls.
    func testCheckBeforeTheModelIsLoaded() throws {
        XCTAssertThrowsError(try PlanPresets.check("deepcache:2,nonuniform,center=10", steps: 10))
        XCTAssertNoThrow(try PlanPresets.check("deepcache:2,nonuniform", steps: 10))
        XCTAssertThrowsError(try PlanPresets.check("d:12*3;r:0.4*3", steps: 2))
        XCTAssertThrowsError(try PlanPresets.check("dato:0.4,gamma=x", steps: 2))
        XCTAssertThrowsError(try PlanPresets.check("none", steps: 0))
        XCTAssertThrowsError(try PlanPresets.check("none", steps: 10_001))
        for ok in ["none", "dato-reference", "d:12*7", "deepcache:2,nonuniform", "dato:0.4,levels=0+1", "d:12*3;r:0.4*50"] {
            XCTAssertNoThrow(try PlanPresets.check(ok, steps: 50), ok)
        }
        XCTAssertThrowsError(try PlanPresets.resolve("none", calls: 0, steps: 1))
        XCTAssertThrowsError(try PlanPresets.resolve("none", calls: -5, steps: 1))
        XCTAssertThrowsError(try PlanPresets.resolve("deepcache:2", calls: Int.max, steps: 1))
    }
}
