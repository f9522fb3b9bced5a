import DatoAccel
import DatoCore
import DatoPipeline
import Foundation
import XCTest

/// A loaded pipeline is reentrant: generations with different plans running at the same time on one pipeline
/// give, bit for bit, the images they give when run alone (issue 22's acceptance test).
final class ConcurrentGenerationTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DatoPipelineTests/Fixtures")

    /// Requests that differ in plan, prompt and seed (several steps each, classifier-free guidance).
    static func requests() -> [GenerationRequest] {
        let plans = ["dato:0.4", "deepcache:2,branch=2+tome:0.5", "atedm:0.5", "d:12*6;r:0.5*6;m:tome", nil]
        let long = Array(repeating: "a yellow sun", count: 30).joined(separator: " and ")   // truncated: a warning
        let prompts = ["a red circle", "a blue square", "a green tree", "a red circle", long]
        return plans.indices.map { i in
            var r = GenerationRequest(prompt: prompts[i])
            r.width = 64; r.height = 64; r.steps = 6; r.seed = UInt64(10 + i); r.scheduler = .ddim
            r.plan = plans[i]
            return r
        }
    }

    func testConcurrentGenerationsMatchTheSameGenerationsAlone() throws {
        try checkConcurrent(model: "tiny-sd", rounds: 6)
    }

    func testConcurrentGenerationsOnSD2() throws {
        try checkConcurrent(model: "sd2/tiny-sd2", rounds: 2)
    }

    /// Runs every request alone, then all of them at once from separate threads, `rounds` times; each
    /// concurrent image must equal its lone one.
    func checkConcurrent(model: String, rounds: Int) throws {
        let pipe = try StableDiffusionPipeline.load(path: Self.fixtures.appendingPathComponent(model).path)
        let requests = Self.requests()
        let alone = try requests.map { try pipe.generate($0) }
        XCTAssertEqual(alone.map { $0.warnings.count }, [0, 0, 0, 0, 1], "only the long prompt is truncated")
        XCTAssertEqual(pipe.warnings, alone[4].warnings, "the pipeline's warnings are the last run's")
        for round in 0..<rounds {
            let results = Results(count: requests.count)
            let done = DispatchGroup()
            for i in requests.indices {
                done.enter()
                let thread = Thread {
                    results.set(i, Result { try pipe.generate(requests[i]) })
                    done.leave()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            done.wait()
            for (i, result) in results.all().enumerated() {
                let label = "\(model) round \(round), plan \(requests[i].plan ?? "none")"
                switch result {
                case .success(let image)?:
                    XCTAssertTrue(image.pixels == alone[i].pixels, "\(label): the image differs from the one made alone")
                    XCTAssertTrue(image.latents.array == alone[i].latents.array, "\(label): the latents differ")
                    XCTAssertEqual(image.macs, alone[i].macs, label)
                    XCTAssertEqual(image.warnings, alone[i].warnings, label)
                case .failure(let error)?: XCTFail("\(label): \(error)")
                case nil: XCTFail("\(label): no result")
                }
            }
        }
    }
}

/// Results written from several threads.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<GeneratedImage, Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: Result<GeneratedImage, Error>) {
        lock.lock(); defer { lock.unlock() }
        values[i] = value
    }

    func all() -> [Result<GeneratedImage, Error>?] {
        lock.lock(); defer { lock.unlock() }
        return values
    }
}
