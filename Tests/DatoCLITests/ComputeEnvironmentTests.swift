import DatoCore
import XCTest
@testable import dato

/// The environment variables the `dato` command reads, through its one place (`ComputeEnvironment`), with
/// explicit dictionaries (the process's environment is never changed).
final class ComputeEnvironmentTests: XCTestCase {
    func testNoVariableKeepsTheLibraryDefaults() {
        XCTAssertEqual(ComputeEnvironment([:]), ComputeEnvironment())
        let all = ComputeEnvironment(["PATH": "/bin", "HOME": "/root"])
        XCTAssertTrue(all.winograd && all.amx && all.amxConvolution && all.avx512)
    }

    /// Each variable set to "0" turns off its own switch and no other.
    func testEachVariableTurnsOffItsSwitch() {
        var expected = ComputeEnvironment()
        expected.winograd = false
        XCTAssertEqual(ComputeEnvironment(["DATO_WINOGRAD": "0"]), expected)
        expected = ComputeEnvironment()
        expected.amx = false
        XCTAssertEqual(ComputeEnvironment(["DATO_AMX": "0"]), expected)
        expected = ComputeEnvironment()
        expected.amxConvolution = false
        XCTAssertEqual(ComputeEnvironment(["DATO_AMX_CONV": "0"]), expected)
        expected = ComputeEnvironment()
        expected.avx512 = false
        XCTAssertEqual(ComputeEnvironment(["DATO_AVX512": "0"]), expected)
        let none = ComputeEnvironment(Dictionary(uniqueKeysWithValues: ComputeEnvironment.variables.map { ($0, "0") }))
        XCTAssertFalse(none.winograd || none.amx || none.amxConvolution || none.avx512)
    }

    /// Only "0" turns a feature off, as before the reads moved out of the library.
    func testOtherValuesKeepTheDefault() {
        for value in ["1", "", "false", "no", "00", " 0"] {
            let env = Dictionary(uniqueKeysWithValues: ComputeEnvironment.variables.map { ($0, value) })
            XCTAssertEqual(ComputeEnvironment(env), ComputeEnvironment(), "value '\(value)'")
        }
    }

    /// `apply` sets the library's switches: DATO_AMX=0 all three AMX paths, DATO_AMX_CONV=0 only the
    /// convolutions; no switch is turned on. (The AMX convolution switch stays off on a CPU without AMX.)
    func testApplySetsTheLibrarySettings() {
        let saved = (Conv2D.winograd, Attention.amxEnabled, Conv2D.ownAMXKernel, NearestSearch.bf16Estimate, Attention.avx512Softmax)
        defer {
            (Conv2D.winograd, Attention.amxEnabled, Conv2D.ownAMXKernel, NearestSearch.bf16Estimate, Attention.avx512Softmax) = saved
        }
        let amx = Attention.amxAvailable
        func allOn() {
            (Conv2D.winograd, Attention.amxEnabled, Conv2D.ownAMXKernel, NearestSearch.bf16Estimate, Attention.avx512Softmax) =
                (true, true, true, true, true)
        }
        func state() -> [Bool] {
            [Conv2D.winograd, Attention.amxEnabled, Conv2D.ownAMXKernel, NearestSearch.bf16Estimate, Attention.avx512Softmax]
        }
        let cases: [([String: String], [Bool])] = [
            ([:], [true, true, amx, true, true]),
            (["DATO_WINOGRAD": "1", "DATO_AMX": "", "DATO_AVX512": "yes"], [true, true, amx, true, true]),
            (["DATO_WINOGRAD": "0"], [false, true, amx, true, true]),
            (["DATO_AMX": "0"], [true, false, false, false, true]),
            (["DATO_AMX_CONV": "0"], [true, true, false, true, true]),
            (["DATO_AVX512": "0"], [true, true, amx, true, false]),
        ]
        for (environment, expected) in cases {
            allOn()
            ComputeEnvironment(environment).apply()
            XCTAssertEqual(state(), expected, "\(environment)")
        }
    }

    /// The digest cache: $XDG_CACHE_HOME/swift-dato when absolute (XDG rules ignore a relative or empty one),
    /// else $HOME/.cache/swift-dato, else none.
    func testCacheDirectoryFollowsXDG() {
        XCTAssertEqual(CacheDirectory.of(["XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"])?.path, "/x/cache/swift-dato")
        XCTAssertEqual(CacheDirectory.of(["HOME": "/home/u"])?.path, "/home/u/.cache/swift-dato")
        XCTAssertEqual(CacheDirectory.of(["XDG_CACHE_HOME": "", "HOME": "/home/u"])?.path, "/home/u/.cache/swift-dato")
        XCTAssertEqual(CacheDirectory.of(["XDG_CACHE_HOME": "rel/cache", "HOME": "/home/u"])?.path, "/home/u/.cache/swift-dato")
        XCTAssertNil(CacheDirectory.of([:]))
        XCTAssertNil(CacheDirectory.of(["HOME": "relative"]))
    }

    /// The library (every module but the `dato` command) reads no environment variable.
    func testLibraryReadsNoEnvironment() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { !$0.hasPrefix("dato/") && ($0.hasSuffix(".swift") || $0.hasSuffix(".c") || $0.hasSuffix(".h")) }
        XCTAssertGreaterThan(files.count, 50)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for pattern in ["processInfo.environment", "getenv("] {
                XCTAssertFalse(text.contains(pattern), "\(file) reads the environment (\(pattern))")
            }
        }
    }
}
