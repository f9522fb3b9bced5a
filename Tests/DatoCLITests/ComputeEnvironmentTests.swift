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
    /// convolutions; no switch is turned on.
    func testApplySetsTheLibrarySettings() {
        let saved = (Conv2D.winograd, Attention.amxEnabled, Conv2D.ownAMXKernel, NearestSearch.bf16Estimate, Attention.avx512Softmax)
        func restore() {
            (Conv2D.winograd, Attention.amxEnabled, Conv2D.ownAMXKernel, NearestSearch.bf16Estimate, Attention.avx512Softmax) = saved
        }
        defer { restore() }
        ComputeEnvironment([:]).apply()
        XCTAssertTrue(Conv2D.winograd == saved.0 && Attention.amxEnabled == saved.1 && Conv2D.ownAMXKernel == saved.2
                      && NearestSearch.bf16Estimate == saved.3 && Attention.avx512Softmax == saved.4)

        ComputeEnvironment(["DATO_WINOGRAD": "0"]).apply()
        XCTAssertFalse(Conv2D.winograd)
        XCTAssertEqual(Attention.amxEnabled, saved.1)
        restore()

        ComputeEnvironment(["DATO_AMX": "0"]).apply()
        XCTAssertFalse(Attention.amxEnabled)
        XCTAssertFalse(Conv2D.ownAMXKernel)
        XCTAssertFalse(NearestSearch.bf16Estimate)
        XCTAssertEqual(Attention.avx512Softmax, saved.4)
        XCTAssertTrue(Conv2D.winograd)
        restore()

        ComputeEnvironment(["DATO_AMX_CONV": "0"]).apply()
        XCTAssertFalse(Conv2D.ownAMXKernel)
        XCTAssertEqual(Attention.amxEnabled, saved.1)
        XCTAssertEqual(NearestSearch.bf16Estimate, saved.3)
        restore()

        ComputeEnvironment(["DATO_AVX512": "0"]).apply()
        XCTAssertFalse(Attention.avx512Softmax)
        XCTAssertEqual(Attention.amxEnabled, saved.1)
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
