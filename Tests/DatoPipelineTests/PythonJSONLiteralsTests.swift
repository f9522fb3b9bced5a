import DatoPipeline
import Foundation
import XCTest

/// Scheduler configs are read as strict JSON with Python's non-finite literals turned into null (Foundation's
/// JSON5 mode, used before, stopped the process on malformed input the fuzzer found:
/// tools/fuzz/regressions/config/json5-fatal-error.json).
final class PythonJSONLiteralsTests: XCTestCase {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dato-sched-\(UUID().uuidString).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testNegativeInfinityFromPythonIsRead() throws {
        let base = #""_class_name": "DPMSolverMultistepScheduler", "num_train_timesteps": 1000, "timestep_spacing": "leading""#
        let plain = try SchedulerConfig.load(try write("{\(base)}"))
        let python = try SchedulerConfig.load(try write("{\(base), \"lambda_min_clipped\": -Infinity, \"x\": [NaN, Infinity]}"))
        XCTAssertEqual(python.numTrainTimesteps, plain.numTrainTimesteps)
        XCTAssertEqual(python.className, plain.className)
    }

    func testLiteralsInsideStringsAreKept() throws {
        let path = try write(#"{"_class_name": "EulerDiscreteScheduler", "interpolation_type": "NaN\"Infinity -Infinity"}"#)
        XCTAssertEqual(try SchedulerConfig.load(path).interpolationType, "NaN\"Infinity -Infinity")
    }

    func testMalformedConfigIsAnErrorNotAStop() throws {
        let path = try write("{\"_class_name\": \"PNDMScheduler\",\n \u{1}\u{0}\u{0}\u{3}\u{E8} \"steps_offset\": 1}")
        XCTAssertThrowsError(try SchedulerConfig.load(path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
    }
}
