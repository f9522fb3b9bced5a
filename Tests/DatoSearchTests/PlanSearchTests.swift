@testable import DatoSearch
import DatoAccel
import DatoPipeline
import Foundation
import XCTest

/// Plan searches on the tiny fixture pipeline: a short search, kill-and-resume, the external scorer, and a
/// front plan reproducing its journaled quality through the ordinary generation path.
final class PlanSearchTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DatoPipelineTests/Fixtures")
    static let model = fixtures.appendingPathComponent("tiny-sd").path
    /// The tiny SD 2.x pipeline (v-prediction, "!" padding, per-level heads, linear projections).
    static let sd2Model = fixtures.appendingPathComponent("sd2/tiny-sd2").path

    func tempPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-search-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = dir.appendingPathComponent(name).path
        try? FileManager.default.removeItem(atPath: p)
        return p
    }

    func makeSearch(journal: String, quality: QualityMetric = .ssim, space kind: PlanSpace.Kind = .joint,
                    prompts: [String] = ["a red circle", "a blue square"], size: Int = 32,
                    model: String = PlanSearchTests.model) throws -> PlanSearch {
        let pipe = try StableDiffusionPipeline.load(path: model)
        var options = PlanSearch.Options(prompts: prompts, seeds: [3])
        options.steps = 6; options.width = size; options.height = size; options.scheduler = .ddim
        options.quality = quality
        options.maxQualityLoss = quality == .ssim ? 0.5 : nil
        var space = PlanSpace(kind: kind, calls: 6, steps: 6)
        space.ratioValues = [0, 0.3, 0.5]
        let j = try SearchJournal(path: journal, settings: ["test": "plan-search", "quality": quality.description])
        return PlanSearch(pipeline: pipe, space: space, options: options, journal: j)
    }

    var settings: NSGA2.Settings {
        var s = NSGA2.Settings()
        s.populationSize = 6; s.generations = 3; s.seed = 4
        return s
    }

    /// An interrupted search resumed on its journal ends with the front of an uninterrupted run, and no
    /// genome is generated twice.
    func testKillAndResume() throws {
        let whole = try makeSearch(journal: tempPath("whole.sqlite"))
        var fresh = 0
        whole.onEvaluation = { if !$1 { fresh += 1 } }
        let a = try NSGA2(settings: settings).run(whole)
        let total = try whole.journal.entries().count
        XCTAssertEqual(fresh, total)

        struct Killed: Error {}
        let path = tempPath("resumed.sqlite")
        let first = try makeSearch(journal: path)
        var count = 0
        first.onEvaluation = { _, _ in count += 1 }
        let killer = Interrupting(inner: first, after: 7)
        XCTAssertThrowsError(try NSGA2(settings: settings).run(killer))
        let kept = try first.journal.entries().count
        XCTAssertGreaterThan(kept, 0)
        let second = try makeSearch(journal: path)
        var repeated = 0
        second.onEvaluation = { if !$1 { repeated += 1 } }
        let b = try NSGA2(settings: settings).run(second)
        XCTAssertEqual(a.map(\.genome), b.map(\.genome))
        XCTAssertEqual(a.map(\.evaluation), b.map(\.evaluation))
        XCTAssertEqual(kept + repeated, total, "finished evaluations are taken from the journal, not repeated")
        XCTAssertThrowsError(try SearchJournal(path: path, settings: ["test": "other"])) {
            XCTAssertTrue("\($0)".contains("other settings"), "\($0)")
        }
    }

    /// The front's plans are valid plan strings that reproduce their journaled quality and cost, on SD 1.x and
    /// SD 2.x.
    func testFrontPlansReproduce() throws {
        try checkFrontPlansReproduce(model: Self.model, journal: "front.sqlite")
        try checkFrontPlansReproduce(model: Self.sd2Model, journal: "front-sd2.sqlite")
    }

    func checkFrontPlansReproduce(model: String, journal: String) throws {
        let search = try makeSearch(journal: tempPath(journal), model: model)
        try NSGA2(settings: settings).run(search)
        let front = FrontReport.front(try search.journal.entries())
        XCTAssertFalse(front.isEmpty)
        for e in front.prefix(2) {
            let again = try search.measure(plan: e.plan)
            XCTAssertEqual(again.qualityLoss, e.qualityLoss, accuracy: 1e-9, e.plan)
            XCTAssertEqual(again.macFraction, e.macFraction, accuracy: 1e-9, e.plan)
        }
        XCTAssertTrue(FrontReport.csv(front).hasPrefix("quality_loss,cost"))
        XCTAssertTrue(FrontReport.svg(all: try search.journal.entries(), front: front, references: [], quality: "ssim").contains("<polyline"))
    }

    /// An external scorer command: here the PNG size in bytes as a stand-in score.
    func testExternalScorer() throws {
        let script = tempPath("score.sh")
        try """
            #!/bin/sh
            { tr ',' '\\n'; echo; } | sed -n 's/.*"image" *: *"\\([^"]*\\)".*/\\1/p' | sed 's#\\\\/#/#g' | while read -r f; do wc -c < "$f"; done
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let search = try makeSearch(journal: tempPath("scorer.sqlite"), quality: .command("sh \(script)"), space: .depth)
        let full = try search.evaluate([[2, 2, 2, 2, 2]])   // every call full: the baseline's own score
        XCTAssertEqual(full[0].objectives[0], 0, accuracy: 1e-9)
        XCTAssertEqual(full[0].objectives[1], 1, accuracy: 1e-9)
        let cached = try search.evaluate([[1, 1, 1, 1, 1]])
        XCTAssertLessThan(cached[0].objectives[1], 1)
        let bad = try makeSearch(journal: tempPath("bad.sqlite"), quality: .command("echo 1 2 3"), space: .depth)
        XCTAssertThrowsError(try bad.evaluate([[0, 0, 0, 0, 0]])) { XCTAssertTrue("\($0)".contains("must print 2"), "\($0)") }
    }
}

extension PlanSearchTests {
    /// The demo scorer as quality: the unaccelerated plan loses nothing; prompts outside the demo template are refused.
    func testAlignmentQuality() throws {
        let search = try makeSearch(journal: tempPath("align.sqlite"), quality: .alignment, space: .depth,
                                    prompts: ["a small red circle at the top left on a blue background"], size: 64)
        let full = try search.evaluate([[2, 2, 2, 2, 2]])
        XCTAssertEqual(full[0].objectives[0], 0, accuracy: 1e-12)
        let bad = try makeSearch(journal: tempPath("align-bad.sqlite"), quality: .alignment, space: .depth, prompts: ["a photo of a cat"], size: 64)
        XCTAssertThrowsError(try bad.evaluate([[2, 2, 2, 2, 2]])) { XCTAssertTrue("\($0)".contains("demo-style"), "\($0)") }
    }
}

/// Throws after a number of evaluations, as a search killed midway.
struct Interrupting: SearchProblem {
    let inner: PlanSearch
    let after: Int
    final class Counter { var n = 0 }
    let counter = Counter()
    var lowerBounds: [Double] { inner.lowerBounds }
    var upperBounds: [Double] { inner.upperBounds }
    var integerGenes: [Bool] { inner.integerGenes }
    var objectiveCount: Int { 2 }
    var constraintCount: Int { inner.constraintCount }
    func evaluate(_ genomes: [[Double]]) throws -> [Evaluation] {
        var out: [Evaluation] = []
        for g in genomes {
            if counter.n == after { throw SearchError("killed") }
            counter.n += 1
            out += try inner.evaluate([g])
        }
        return out
    }
}
