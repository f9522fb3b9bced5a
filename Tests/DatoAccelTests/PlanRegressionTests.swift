@testable import DatoAccel
import Foundation
import XCTest

/// Issue 20's plan failures, through the entry points that existed before it (`PlanPresets.resolve`,
/// `AccelerationPlan(compact:)`): each one trapped, hung, allocated without bound, or refused a valid plan.
final class PlanRegressionTests: XCTestCase {
    /// `spec` is refused with a `PlanError` that names the plan and contains `fragment`.
    func assertRefused(_ spec: String, calls: Int = 51, steps: Int = 50, _ fragment: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PlanPresets.resolve(spec, calls: calls, steps: steps), spec, file: file, line: line) { error in
            XCTAssertTrue(error is PlanError, "\(spec): \(type(of: error)) \(error)", file: file, line: line)
            let text = "\(error)"
            XCTAssertTrue(text.contains("'\(spec.prefix(40))"), "\(spec): the error does not name the plan: \(text)", file: file, line: line)
            XCTAssertTrue(text.contains(fragment), "\(spec): expected '\(fragment)' in: \(text)", file: file, line: line)
        }
    }

    func testMalformedDeepCacheOptionsAreRefused() {
        assertRefused("deepcache:3,=", "has no name")   // trapped: index out of range
        assertRefused("deepcache:3,=5", "has no name")
        assertRefused("deepcache:3,,branch=2", "empty deepcache option")
        assertRefused("deepcache:3,", "empty deepcache option")
        assertRefused("deepcache:3,branch=2,branch=3", "given twice")
        assertRefused("deepcache:3,branch", "needs a value")
        assertRefused("deepcache:3,nonuniform=1", "takes no value")
        assertRefused("deepcache:3,center=5", "only with nonuniform")
        assertRefused("deepcache:9223372036854775807,nonuniform", "interval")   // (steps + N - 1) overflowed
        assertRefused("deepcache:-1", "interval")
    }

    /// DeepCache's default centre 15 is for 50 steps; below it `(T - c)^(1/p)` is NaN and `Int(NaN)` trapped.
    /// The default centre now scales with shorter runs; an explicit centre past the run is an error.
    func testNonUniformDeepCacheBelowItsCentre() throws {
        for steps in 1...15 {
            for calls in [steps, steps + 1] {
                do {
                    let plan = try PlanPresets.resolve("deepcache:2,nonuniform", calls: calls, steps: steps)
                    XCTAssertEqual(plan.depths.count, calls)
                    XCTAssertEqual(plan.depths.first, AccelerationPlan.fullDepth)
                } catch {
                    XCTAssertTrue(error is PlanError, "\(steps) steps: \(error)")
                }
            }
        }
        let ten = try PlanPresets.resolve("deepcache:2,nonuniform", calls: 10, steps: 10)
        XCTAssertEqual(ten.depths.filter { $0 == AccelerationPlan.fullDepth }.count, 5)
        assertRefused("deepcache:2,nonuniform,center=10", calls: 11, steps: 10, "center=10 must be below")
        // Every other step count either gives a plan or a PlanError.
        for steps in 16...120 {
            do {
                let plan = try PlanPresets.resolve("deepcache:3,nonuniform", calls: steps + 1, steps: steps)
                XCTAssertEqual(plan.depths.count, steps + 1)
            } catch {
                XCTAssertTrue(error is PlanError, "\(steps) steps: \(error)")
            }
        }
        let short = try PlanPresets.resolve("deepcache:2,nonuniform,center=3", calls: 11, steps: 10)
        XCTAssertEqual(short.depths.filter { $0 == 12 }.count, 5)
    }

    /// Infinite, NaN, negative or huge centres and powers: refused (power inf or 1e300 looped forever, as
    /// p - 0.02 == p).
    func testCentreAndPowerOutOfRangeAreRefused() {
        for center in ["inf", "nan", "-1", "-inf", "1e300", "x", ""] {
            assertRefused("deepcache:2,nonuniform,center=\(center)", "center")
        }
        for power in ["inf", "nan", "1", "0", "-2", "1e300", "11", "0.5"] {
            assertRefused("deepcache:2,nonuniform,power=\(power)", "power")
        }
    }

    /// `d:` run-lengths expanded without a bound: 10,000 items of `2*100000` (130 KB) made 10^9 entries.
    func testRunLengthExpansionIsBounded() {
        let huge = "d:12," + Array(repeating: "2*100000", count: 10_000).joined(separator: ",")
        assertRefused(huge, "expands to more than 10000 entries")
        assertRefused("d:12,2*9223372036854775807,2*9223372036854775807", "expands to more than 10000 entries")
        assertRefused("d:12*5000,2*5001", "expands to more than 10000 entries")
        assertRefused("d:12*51;r:0.4*10001", "expands to more than 10000 entries")
        XCTAssertThrowsError(try AccelerationPlan(compact: "d:12,2*100000,2*100000")) { error in
            XCTAssertTrue("\(error)".contains("more than 10000"), "\(error)")
        }
    }

    /// The documented `levels=0+1` broke because `+` also joins depths and pruning; the plan dato writes into
    /// a PNG (`Accel: d:...;m:dato,levels=0+1`) and the search journal could not be read back.
    func testDocumentedLevelsFormReadsBack() throws {
        let alone = try PlanPresets.resolve("dato:0.4,levels=0+1", calls: 51, steps: 50)
        XCTAssertEqual(alone.method, "dato,levels=0+1")
        XCTAssertEqual(alone.ratios, Array(repeating: 0.4, count: 50))
        XCTAssertEqual(alone.depths, Array(repeating: 12, count: 51))
        let joined = try PlanPresets.resolve("deepcache:3+dato:0.4,levels=0+1", calls: 51, steps: 50)
        XCTAssertEqual(joined.depths, try PlanPresets.resolve("deepcache:3", calls: 51, steps: 50).depths)
        XCTAssertEqual(joined.method, "dato,levels=0+1")
        let spaced = try PlanPresets.resolve("dato-reference + atedm:0.6,levels=0+1+2,temporal", calls: 51, steps: 50)
        XCTAssertEqual(spaced.method, "atedm,levels=0+1+2,temporal")
        for plan in [alone, joined, spaced] {
            XCTAssertEqual(try PlanPresets.resolve(plan.description, calls: 51, steps: 50), plan, plan.description)
            XCTAssertEqual(try PlanPresets.resolve(plan.json, calls: 51, steps: 50), plan, plan.json)
        }
        let compact = try AccelerationPlan(compact: "d:12*3;r:0.25*2;m:atedm,levels=0+1")
        XCTAssertEqual(try PlanPresets.resolve("d:12*3;r:0.25*2;m:atedm,levels=0+1", calls: 3, steps: 2), compact)
    }

    /// A JSON plan with a misspelt key ran without the pruning it asked for.
    func testUnknownJSONKeysAreRefused() {
        assertRefused(#"{"depths": [12, 12], "ratio": [0.4, 0.4], "method": "dato"}"#, calls: 2, steps: 2, "unknown key 'ratio'")
        assertRefused(#"{"depths": [12, 12], "methods": "dato"}"#, calls: 2, steps: 2, "unknown key 'methods'")
    }

    /// Empty segments and duplicated fields were silently skipped or overwritten.
    func testEmptySegmentsAndDuplicatesAreRefused() {
        assertRefused("d:12*2;d:12,0", calls: 2, steps: 2, "given twice")
        assertRefused("d:12*2;m:dato;m:tome", calls: 2, steps: 2, "given twice")
        assertRefused("d:12,,0", calls: 2, steps: 2, "is not 'value' or 'value*count'")
        assertRefused("d:12*2;", calls: 2, steps: 2, "is not 'key:value'")
        assertRefused("dato:0.4,,cross", calls: 2, steps: 2, "empty option")
        assertRefused("dato:0.4,levels=0++1", calls: 2, steps: 2, "levels")
        assertRefused("dato:0.4,cross,cross", calls: 2, steps: 2, "given twice")
        assertRefused("d:12*2;m:dato+tome:0.5", calls: 2, steps: 2, "already has pruning")
    }

    /// A FIFO given as a plan file blocked forever in `open()`/read; only regular files are read.
    func testPlanFileMustBeARegularFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("plan.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertRefused(fifo, calls: 2, steps: 2, "is not a regular file")
        assertRefused(dir.path, calls: 2, steps: 2, "is not a regular file")
        let big = dir.appendingPathComponent("big.json")
        try Data((#"{"depths": [12, 12]}"# + String(repeating: " ", count: 2 << 20)).utf8).write(to: big)
        assertRefused(big.path, calls: 2, steps: 2, "bytes; a plan file has at most")
        let good = dir.appendingPathComponent("plan+dato:0.4.json")
        try Data(#"{"depths": [12, 0], "ratios": [0.5], "method": "tome"}"#.utf8).write(to: good)
        XCTAssertEqual(try PlanPresets.resolve(good.path, calls: 2, steps: 1).ratios, [0.5])
    }
}
