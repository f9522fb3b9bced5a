import DatoCore
import XCTest
@testable import dato

/// The environment variables the `dato` command reads, through its one place (`ComputeEnvironment`), with
/// explicit dictionaries (the process's environment is never changed).
final class ComputeEnvironmentTests: XCTestCase {
    func testNoVariableKeepsTheLibraryDefaults() {
        XCTAssertEqual(ComputeEnvironment([:]), ComputeEnvironment())
        let all = ComputeEnvironment(["PATH": "/bin", "HOME": "/root"])
        XCTAssertTrue(all.winograd && all.amx && all.amxConvolution && all.avx512 && all.bf16Winograd && all.fp32Winograd)
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
        expected = ComputeEnvironment()
        expected.bf16Winograd = false
        XCTAssertEqual(ComputeEnvironment(["DATO_BF16_WINOGRAD": "0"]), expected)
        expected = ComputeEnvironment()
        expected.fp32Winograd = false
        XCTAssertEqual(ComputeEnvironment(["DATO_FP32_WINOGRAD": "0"]), expected)
        let none = ComputeEnvironment(Dictionary(uniqueKeysWithValues: ComputeEnvironment.variables.map { ($0, "0") }))
        XCTAssertFalse(none.winograd || none.amx || none.amxConvolution || none.avx512 || none.bf16Winograd
                       || none.fp32Winograd)
    }

    /// Only "0" turns a feature off, as before the reads moved out of the library.
    func testOtherValuesKeepTheDefault() {
        for value in ["1", "", "false", "no", "00", " 0"] {
            let env = Dictionary(uniqueKeysWithValues: ComputeEnvironment.variables.map { ($0, value) })
            XCTAssertEqual(ComputeEnvironment(env), ComputeEnvironment(), "value '\(value)'")
        }
    }

    /// `applied(to:)` turns settings off: DATO_AMX=0 all three AMX paths, DATO_AMX_CONV=0 only the convolutions
    /// and linear layers, DATO_AVX512=0 the AVX-512 kernels (with the bf16 and fp32 Winograd convolutions),
    /// DATO_BF16_WINOGRAD=0 and DATO_FP32_WINOGRAD=0 only those; no switch is turned on. (Whether a kernel runs also needs the CPU: `ComputeSettings`.)
    func testAppliedTurnsSettingsOff() {
        var allOn = ComputeSettings()
        (allOn.convolution, allOn.amxAttention, allOn.amxMatrixKernels) = (.winograd, true, true)
        (allOn.similarity.bf16Estimate, allOn.softmax, allOn.bf16DotAttention) = (true, .avx512, true)
        (allOn.bf16Winograd, allOn.fp32AttentionKernel, allOn.fp32Winograd) = (true, true, true)
        func state(_ s: ComputeSettings) -> [Bool] {
            [s.convolution == .winograd, s.amxAttention, s.amxMatrixKernels, s.similarity.bf16Estimate, s.softmax == .avx512,
             s.bf16DotAttention, s.bf16Winograd, s.fp32AttentionKernel, s.fp32Winograd]
        }
        let cases: [([String: String], [Bool])] = [
            ([:], [true, true, true, true, true, true, true, true, true]),
            (["DATO_WINOGRAD": "1", "DATO_AMX": "", "DATO_AVX512": "yes"], [true, true, true, true, true, true, true, true, true]),
            (["DATO_WINOGRAD": "0"], [false, true, true, true, true, true, true, true, true]),
            (["DATO_AMX": "0"], [true, false, false, false, true, true, true, true, true]),
            (["DATO_AMX_CONV": "0"], [true, true, false, true, true, true, true, true, true]),
            (["DATO_AVX512": "0"], [true, true, true, true, false, false, false, false, false]),
            (["DATO_BF16_WINOGRAD": "0"], [true, true, true, true, true, true, false, true, true]),
            (["DATO_FP32_WINOGRAD": "0"], [true, true, true, true, true, true, true, true, false]),
        ]
        for (environment, expected) in cases {
            XCTAssertEqual(state(ComputeEnvironment(environment).applied(to: allOn)), expected, "\(environment)")
        }
        var allOff = allOn
        (allOff.convolution, allOff.amxAttention, allOff.amxMatrixKernels) = (.direct, false, false)
        (allOff.similarity.bf16Estimate, allOff.softmax, allOff.bf16DotAttention) = (false, .portable, false)
        (allOff.bf16Winograd, allOff.fp32AttentionKernel, allOff.fp32Winograd) = (false, false, false)
        XCTAssertEqual(state(ComputeEnvironment([:]).applied(to: allOff)),
                       [false, false, false, false, false, false, false, false, false])
        XCTAssertEqual(ComputeEnvironment([:]).applied(to: ComputeSettings(precision: .bf16)).precision, .bf16)
    }

    /// `--conv-direct` and the precision reach the settings the commands build models with.
    func testPrecisionOptionsMakeTheSettings() throws {
        let direct = try PrecisionOptions.parse(["--precision", "bf16", "--conv-direct"]).settings()
        XCTAssertEqual(direct.precision, .bf16)
        XCTAssertEqual(direct.convolution, .direct)
        let plain = try PrecisionOptions.parse([]).settings(profiler: Profiler())
        XCTAssertEqual(plain.precision, .fp32)
        XCTAssertNotNil(plain.profiler)
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

    /// The library keeps no mutable global state: no `@TaskLocal`, and no stored `static var` except the two
    /// documented ones (the BF16GEMM primitive cache and the signal pipe of InterruptWatch).
    func testLibraryHasNoMutableStatics() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        let documented = ["DatoCore/BF16GEMM.swift: cache", "DatoSearch/InterruptWatch.swift: pipeEnds"]
        var found: [String] = []
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                if line.contains("@TaskLocal") { found.append("\(file): TaskLocal") }
                guard let range = line.range(of: "static var "), !line.contains("{") else { continue }
                let name = line[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                found.append("\(file): \(name)")
            }
        }
        XCTAssertEqual(found.sorted(), documented)
    }
}
