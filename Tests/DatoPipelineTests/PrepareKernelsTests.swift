import DatoCore
@testable import DatoPipeline
import Foundation
import XCTest

/// `prepareKernels` (run by `dato serve` at start-up): fp32 3x3 convolutions choose their kernel by the size of
/// their first input, so without it a server's first request would choose for every later one. With it, a small
/// request first leaves the native-size image bit for bit as a fresh pipeline makes it.
final class PrepareKernelsTests: XCTestCase {
    func testFirstRequestNoLongerChoosesTheKernels() throws {
        let folder = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tiny-sd").path
        var native = GenerationRequest(prompt: "a red square")
        (native.width, native.height, native.steps, native.seed) = (64, 64, 3, 11)
        var small = native
        (small.width, small.height) = (32, 32)
        let fresh = try StableDiffusionPipeline.load(path: folder).generate(native)

        let prepared = try StableDiffusionPipeline.load(path: folder)
        XCTAssertGreaterThanOrEqual(try prepared.prepareKernels(), 0)
        _ = try prepared.generate(small)
        XCTAssertEqual(Self.differing(try prepared.generate(native), fresh), 0, "prepared, small request first")

        guard CPUFeatures.avx512 else { throw XCTSkip("no AVX-512: fp32 convolutions have one kernel at every size") }
        let unprepared = try StableDiffusionPipeline.load(path: folder)
        _ = try unprepared.generate(small)
        XCTAssertGreaterThan(Self.differing(try unprepared.generate(native), fresh), 0,
                             "without prepareKernels the small request chose the decoder's kernels")
    }

    /// How many values of the decoded images (before 8-bit conversion) differ.
    static func differing(_ a: GeneratedImage, _ b: GeneratedImage) -> Int {
        zip(a.decoded.array, b.decoded.array).filter { $0 != $1 }.count + abs(a.decoded.count - b.decoded.count)
    }
}
