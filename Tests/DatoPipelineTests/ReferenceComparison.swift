import DatoCore
@testable import DatoPipeline
import DatoTestSupport
import Foundation
import XCTest

/// The settings of a diffusers reference run recorded by the fixture scripts.
struct ReferenceRun {
    let prompt: String
    let negativePrompt: String
    let seed: UInt64
    let steps: Int
    let guidanceScale: Float
    let width: Int
    let height: Int

    /// The same request for our pipeline, with the scheduler of diffusers' class `className` (Karras sigmas if
    /// asked); nil if we have no such scheduler.
    func request(scheduler className: String, karras: Bool = false) -> GenerationRequest? {
        var config = SchedulerConfig()
        config.className = className
        config.useKarrasSigmas = karras
        guard let kind = SchedulerKind(config: config) else { return nil }
        var request = GenerationRequest(prompt: prompt)
        request.negativePrompt = negativePrompt
        request.seed = seed
        request.steps = steps
        request.guidanceScale = guidanceScale
        request.width = width
        request.height = height
        request.scheduler = kind
        return request
    }
}

extension XCTestCase {
    /// Checks a generated image against diffusers' `<name>.latents` and `<name>.image` in `io`: every latent within
    /// 1e-3 of the largest latent magnitude, and an 8-bit image of at least 40 dB PSNR. Prints and returns the
    /// worst latent error and the PSNR.
    @discardableResult
    func assertMatchesReference(_ image: GeneratedImage, io: SafetensorsFile, name: String,
                                file: StaticString = #filePath, line: UInt = #line) throws -> (Float, Double) {
        let latents = try io.tensor("\(name).latents")
        var worst: Float = 0
        for i in 0..<latents.count { worst = max(worst, difference(image.latents[i], latents[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-3 * latents.maxAbs, "\(name): latent max error \(worst)", file: file, line: line)
        let expected = try io.tensor("\(name).image")
        let psnr = imagePSNR(pixels: image.pixels, reference: { expected[$0] }, count: expected.count)
        XCTAssertGreaterThanOrEqual(psnr, 40, "\(name): PSNR \(psnr) dB", file: file, line: line)
        print("\(name): latent max abs error \(worst) (max |latent| \(latents.maxAbs)), image PSNR \(psnr) dB")
        return (worst, psnr)
    }
}
