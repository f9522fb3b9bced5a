import DatoAccel
import DatoDemo
import DatoEvaluation
import DatoPipeline
import Foundation

/// The schedule-search problem: a genome decodes to a plan (`PlanSpace`), which generates every prompt/seed
/// pair; the objectives are the mean quality loss against the unaccelerated images and the cost (MAC
/// fraction, or loop time relative to the unaccelerated run). Results go through the journal, so a genome is
/// generated at most once per journal.
public final class PlanSearch: SearchProblem {
    public enum Cost: String, Sendable { case flops, time }

    public struct Options: Sendable {
        public var prompts: [String]
        public var seeds: [UInt64]
        public var steps = 50, width = 512, height = 512
        public var guidanceScale: Float = 7.5
        public var scheduler: SchedulerKind?
        public var quality = QualityMetric.ssim
        public var cost = Cost.flops
        /// Constraint: quality loss <= this (nil: unconstrained).
        public var maxQualityLoss: Double?
        /// Seconds an external scorer (`QualityMetric.command`) may take per call before it is stopped.
        public var scorerTimeout = QualityMetric.defaultScorerTimeout
        public init(prompts: [String], seeds: [UInt64]) { self.prompts = prompts; self.seeds = seeds }
    }

    public let pipeline: StableDiffusionPipeline
    public let space: PlanSpace
    public let options: Options
    public let journal: JournalStore
    /// Called after each genome: its entry and whether it came from the journal (or another process).
    public var onEvaluation: ((JournalEntry, Bool) -> Void)?
    /// Set when the search is shared through a candidate queue: this process is the coordinator.
    public var sharing: Sharing?
    /// Batches asked for so far (a batch is a generation of NSGA-II).
    var batches = 0

    private var baselines: [GeneratedImage] = []
    private var baselineScores: [Double] = []
    private lazy var scorer: AlignmentScorer? = try? AlignmentScorer.bundled()
    private var baselineSeconds = 1.0

    public init(pipeline: StableDiffusionPipeline, space: PlanSpace, options: Options, journal: JournalStore) {
        self.pipeline = pipeline
        self.space = space
        self.options = options
        self.journal = journal
    }

    public var lowerBounds: [Double] { space.lowerBounds }
    public var upperBounds: [Double] { space.upperBounds }
    public var integerGenes: [Bool] { Array(repeating: true, count: space.geneCount) }
    public var objectiveCount: Int { 2 }
    public var constraintCount: Int { options.maxQualityLoss == nil ? 0 : 1 }

    /// The prompt/seed pairs, paired by index: prompt i with every seed.
    var pairs: [(prompt: String, seed: UInt64)] { options.prompts.flatMap { p in options.seeds.map { (p, $0) } } }

    /// The request for one pair: with a plan argument (`plan`, e.g. a preset) or a plan already made (`made`).
    func request(_ pair: (prompt: String, seed: UInt64), plan: String?, made: AccelerationPlan? = nil) -> GenerationRequest {
        var r = GenerationRequest(prompt: pair.prompt)
        r.seed = pair.seed; r.steps = options.steps; r.width = options.width; r.height = options.height
        r.guidanceScale = options.guidanceScale; r.scheduler = options.scheduler; r.plan = plan
        r.accelerationPlan = made
        return r
    }

    /// Generates the unaccelerated images (once per search).
    public func prepare() throws {
        guard baselines.isEmpty else { return }
        baselines = try pairs.map { try pipeline.generate(request($0, plan: nil)) }
        baselineSeconds = median(baselines.map(\.loopSeconds))
        if options.quality.isScore { baselineScores = try scores(baselines) }
    }

    public func evaluate(_ genomes: [[Double]]) throws -> [Evaluation] {
        if sharing?.evaluates ?? true { try prepare() }
        batches += 1
        if let sharing { return try evaluateShared(genomes, sharing) }
        return try genomes.map { g in
            if let e = try stored(g) {
                onEvaluation?(e, true)
                return e.evaluation
            }
            let e = try measure(g)
            try journal.record(e)
            onEvaluation?(e, false)
            return e.evaluation
        }
    }

    /// The journal's evaluation of a genome, checked against this search's constraint count.
    func stored(_ g: [Double]) throws -> JournalEntry? {
        guard let e = try journal.entry(for: g) else { return nil }
        guard e.evaluation.constraints.count == constraintCount else {
            throw SearchError("\(journal.name) is damaged: the evaluation of genome \(SearchJournal.key(g)) has \(e.evaluation.constraints.count) constraint value(s), this search has \(constraintCount)")
        }
        return e
    }

    /// Generates every pair with the genome's plan and measures it.
    public func measure(_ genome: [Double]) throws -> JournalEntry {
        let plan = try space.plan(genome)
        return try run(plan.description, made: plan, genome: genome)
    }

    /// Quality loss and cost of any plan (e.g. a preset) on the same pairs, for placing it beside the front.
    public func measure(plan spec: String) throws -> JournalEntry {
        try prepare()
        return try run(spec, genome: [])
    }

    /// Per-image scores (higher is better) from the external command or the alignment scorer.
    private func scores(_ images: [GeneratedImage]) throws -> [Double] {
        switch options.quality {
        case .command(let c): return try QualityMetric.score(images, prompts: pairs.map(\.prompt), command: c, timeout: options.scorerTimeout)
        case .alignment:
            guard let scorer else { throw SearchError("the bundled alignment scorer cannot be loaded") }
            return try zip(images, pairs).map { image, pair in
                guard let a = try scorer.alignment(prompt: pair.prompt, pixels: image.pixels, width: image.width, height: image.height) else {
                    throw SearchError("--quality alignment needs demo-style prompts (\"a small red circle at the top left on a blue background\"); '\(pair.prompt)' names no attribute")
                }
                return a
            }
        default: return []
        }
    }

    /// Measures the plan `made`, or without it the plan argument `spec`; `spec` names the plan in the journal
    /// when no image was made.
    private func run(_ spec: String, made: AccelerationPlan? = nil, genome: [Double]) throws -> JournalEntry {
        let images = try pairs.map { try pipeline.generate(request($0, plan: made == nil ? spec : nil, made: made)) }
        let loss: Double
        if options.quality.isScore {
            loss = mean(baselineScores) - mean(try scores(images))
        } else {
            loss = mean(zip(images, baselines).map { options.quality.pixelLoss($0, $1) })
        }
        let macs = mean(images.map { $0.macs / $0.fullMACs })
        let seconds = median(images.map(\.loopSeconds))
        let cost = options.cost == .flops ? macs : seconds / baselineSeconds
        let constraints = options.maxQualityLoss.map { [loss - $0] } ?? []
        return JournalEntry(genome: genome, plan: images.first?.plan.description ?? spec,
                            evaluation: Evaluation(objectives: [loss, cost], constraints: constraints),
                            qualityLoss: loss, macFraction: macs, seconds: seconds)
    }
}

func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
