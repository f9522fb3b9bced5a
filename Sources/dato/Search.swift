import ArgumentParser
import DatoAccel
import DatoCore
import DatoModels
import DatoPipeline
import DatoSearch
import DatoSearchPostgres
import Foundation

/// `dato search`: NSGA-II over cache depths and prune ratios with a resumable SQLite journal.
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search acceleration plans (NSGA-II over per-call depths and per-step prune ratios): quality loss vs cost.",
        discussion: """
            Every candidate generates the same prompt/seed pairs as the unaccelerated run; quality loss is measured \
            against those images. Evaluations go to the journal as they finish: run the same command again, or \
            `dato search --resume JOURNAL`, to continue an interrupted search without repeating any evaluation.
            """
    )

    @OptionGroup var location: ModelLocation
    @Option(help: "Search space: depth (per-call cache depths), ratio (per-step prune ratios on fixed depths), joint.") var space: PlanSpace.Kind = .depth
    @Option(help: "A UTF-8 file with one prompt per line.") var prompts: String?
    @Option(parsing: .unconditional, help: "Comma-separated seeds (each prompt is generated with each seed).") var seeds = "0"
    @Option(help: "Population size.") var population = 15
    @Option(help: "Generations (the initial population is the first).") var generations = 30
    @Option(parsing: .unconditional, help: "Random seed of the search.") var seed: UInt64 = 1
    @Option(help: "Quality loss: ssim (1 - SSIM), psnr (-PSNR), alignment (drop of the demo scorer's prompt alignment), or command:\"CMD\" (an external scorer).") var quality = "ssim"
    @Option(help: "Cost: flops (analytical MACs, deterministic) or time (measured loop time).") var cost: PlanSearch.Cost = .flops
    @Option(name: .customLong("max-quality-loss"), parsing: .unconditional, help: "Constraint: quality loss at most this (negative for psnr, whose loss is -PSNR).") var maxQualityLoss: Double?
    @Option(help: "Depth values of the depth genes, e.g. 0,1,12 (default) or 0,1,2,3,12.") var depths = "0,1,12"
    @Option(name: .customLong("fixed-depths"), help: "Depth plan for --space ratio (a preset or compact plan; default all full).") var fixedDepths: String?
    @Option(help: "Pruning method the ratio genes drive (with options), e.g. dato, tome, atedm,temporal.") var method = "dato"
    @Flag(name: .customLong("constrained-sampling"), help: "Initial depth genomes as the reference's ConstrainedSampling.") var constrainedSampling = false
    @Option(help: "Denoising steps.") var steps = 50
    @Option(help: "Scheduler (default: the model's).") var scheduler: SchedulerKind?
    @Option(name: .customLong("cfg-scale"), parsing: .unconditional, help: "Guidance scale.") var cfgScale: Float = 7.5
    @Option(name: [.customShort("W"), .customLong("width")], help: "Width (default: native).") var width: Int?
    @Option(name: [.customShort("H"), .customLong("height")], help: "Height (default: native).") var height: Int?
    @Option(help: "The journal: an SQLite file (created if missing), or a PostgreSQL URL postgresql://user[:password]@host[:port]/db[?sslmode=...] that `dato search-worker` processes on other machines share (this process is then the coordinator; missing parts from PG* variables and ~/.pgpass).") var journal = "search.sqlite"
    @Option(help: "The study in a PostgreSQL journal (several may share a database).") var study = JournalOpening.defaultStudy
    @Flag(name: .customLong("no-evaluate"), help: "With a PostgreSQL journal: only coordinate; workers evaluate every candidate.") var noEvaluate = false
    @Option(parsing: .unconditional, help: "With a PostgreSQL journal: seconds without a heartbeat after which a claimed candidate goes back to the queue.") var grace = 60.0
    @Option(help: "Output folder: front.json, front.csv, front.svg, front.png.") var out = "search-out"
    @Option(help: "Continue the search recorded in this journal with its own settings.") var resume: String?
    @Flag(name: .customLong("no-presets"), help: "Do not measure the preset plans for the plot.") var noPresets = false
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: .customLong("scorer-timeout"), help: "Seconds a --quality command scorer may take per call before it is stopped (with its whole process group) and the search fails.") var scorerTimeout = QualityMetric.defaultScorerTimeout

    /// Everything that determines the search's results, as stored in the journal.
    func settings(prompts list: [String], modelIdentity: String) -> [String: String] {
        let (model, config, variant, predictionType) = (location.model, location.config, location.variant, location.predictionType)
        return ["space": space.rawValue, "prompts": list.joined(separator: "\n"), "seeds": seeds, "population": String(population),
         "generations": String(generations), "seed": String(seed), "quality": quality, "cost": cost.rawValue,
         "max_quality_loss": maxQualityLoss.map { String($0) } ?? "", "depths": depths, "fixed_depths": fixedDepths ?? "",
         "method": method, "constrained_sampling": String(constrainedSampling), "steps": String(steps),
         "scheduler": scheduler?.rawValue ?? "", "cfg_scale": String(cfgScale), "width": width.map(String.init) ?? "",
         "height": height.map(String.init) ?? "", "model": model ?? "", "config": config ?? "", "variant": variant ?? "",
         "prediction_type": predictionType?.rawValue ?? "", "model_identity": modelIdentity,
         "version": Dato.configuration.version]
    }

    func validate() throws {
        try checkArguments {
            _ = try ArgumentCheck.seeds(seeds)
            try ArgumentCheck.integer(population, "--population", in: 1...10_000)
            try ArgumentCheck.integer(generations, "--generations", in: 1...100_000)
            if let maxQualityLoss { try ArgumentCheck.number(maxQualityLoss, "--max-quality-loss") }
            try Self.checkGrace(grace)
            _ = try ArgumentCheck.integers(depths, "--depths", in: 0...AccelerationPlan.fullDepth, distinct: true)
            try Generate.validateSampling(steps: steps, cfgScale: cfgScale)
            try ArgumentCheck.imageSide(width, "-W/--width")
            try ArgumentCheck.imageSide(height, "-H/--height")
            do { _ = try PruningMethod(parsing: method) } catch { throw ArgumentError("--method", "\(error)") }
            do { try fixedDepths.map { try PlanPresets.check($0, steps: steps) } } catch { throw ArgumentError("--fixed-depths", "\(error)") }
        }
    }

    func run() throws {
        do {
            try search()
        } catch let stop as SearchInterrupted {
            FileHandle.standardError.write("\ndato: \(stop)\n")
            throw ExitCode(stop.exitCode)
        }
    }

    func search() throws {
        guard scorerTimeout.isFinite, scorerTimeout > 0 else { throw ValidationError("--scorer-timeout must be a positive number of seconds") }
        if let resume { return try Self.resume(journal: resume, study: study, threads: threadOptions.threads, out: out, scorerTimeout: scorerTimeout) }
        if noEvaluate, !PostgresLocation.isURL(journal) { throw ValidationError("--no-evaluate needs a PostgreSQL --journal (workers evaluate)") }
        if study != JournalOpening.defaultStudy, !PostgresLocation.isURL(journal) { throw ValidationError("--study names a study in a PostgreSQL --journal; an SQLite journal holds one search") }
        threadOptions.apply()
        try FrontFiles.check(folder: out)   // before minutes of compute
        let promptList = try Self.readPrompts(prompts)
        let seedList = try ArgumentCheck.seeds(seeds)
        var queue: CandidateQueue?
        let loaded = try load(prompts: promptList) { identity in
            let (store, shared) = try JournalOpening.open(journal, study: study, settings: settings(prompts: promptList, modelIdentity: identity))
            queue = shared
            return store
        }
        let problem = loaded.problem, space = loaded.problem.space
        if let queue {
            var sharing = PlanSearch.Sharing(queue: queue)
            sharing.evaluates = !noEvaluate; sharing.grace = grace
            problem.sharing = sharing
        }
        var ns = NSGA2.Settings()
        ns.populationSize = population; ns.generations = generations; ns.seed = seed
        if space.kind == .depth { ns.crossoverProbability = 0.8; ns.mutationProbability = 0.8; ns.mutationEta = 15 }
        var nsga = NSGA2(settings: ns)
        if constrainedSampling { nsga.sampler = space.constrainedSampler() }
        print("search: \(space.kind.rawValue) space, \(space.geneCount) genes, population \(population), \(generations) generations, seed \(seed)")
        if queue != nil { print("shared: \(problem.journal.name); workers join with `dato search-worker --journal URL --study \(study)`") }
        if problem.sharing?.evaluates ?? true {
            print("evaluating the unaccelerated run on \(promptList.count) prompt(s) x \(seedList.count) seed(s)...")
            try problem.prepare()
        }
        var generation = 1, done = 0, fresh = 0, frontSize = 0
        var best: JournalEntry?
        let started = Date()
        let expected = population * generations
        problem.onEvaluation = { entry, cached in
            done += 1
            if !cached { fresh += 1 }
            if entry.evaluation.violation <= 0, entry.evaluation.objectives[1] < (best?.evaluation.objectives[1] ?? .infinity) { best = entry }
            // One line on standard error: a bar over the expected evaluations, generation, front, best trade-off.
            let width = 24, filled = min(width, width * done / max(expected, 1))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let b = best.map { String(format: "best %.2fx at loss %.3g", 1 / max($0.evaluation.objectives[1], 1e-12), $0.qualityLoss) } ?? "no feasible plan yet"
            FileHandle.standardError.write(String(format: "\r  |%@| generation %d/%d, %d evaluations (%d new), front %d, %@, %.0f s   ",
                                                  bar, generation, generations, done, fresh, frontSize, b, Date().timeIntervalSince(started)))
        }
        let journalFile = problem.journal
        try nsga.run(problem) { g in
            let front = FrontReport.front(g.population.map { JournalEntry(genome: $0.genome, plan: "", evaluation: $0.evaluation, qualityLoss: $0.objectives[0], macFraction: 0, seconds: 0) })
            try journalFile.recordGeneration(g.index, evaluations: g.evaluations, front: front.map(\.genome))
            frontSize = front.count
            FileHandle.standardError.write("\n")
            print("generation \(g.index)/\(generations): \(g.evaluations) evaluations, front size \(front.count)")
            generation = g.index + 1
            return true
        }
        try queue?.markFinished()
        var presets: [(String, JournalEntry)] = []
        if !noPresets {
            for name in ["deepcache:3", "deepcache:5", "dato-reference", "tome:0.5"] {
                guard (try? PlanPresets.resolve(name, calls: loaded.calls, steps: steps, units: loaded.units)) != nil else { continue }
                presets.append((name, try problem.measure(plan: name)))
            }
        }
        try Self.writeOutputs(journal: journalFile, presets: presets, quality: quality, cost: cost.rawValue, out: out)
    }

    /// The loaded model and the search problem on the store `journal` opens, given the model's identity.
    func load(prompts promptList: [String], journal: (String) throws -> JournalStore) throws -> (problem: PlanSearch, calls: Int, units: Int) {
        let model = try location.path()
        let (config, variant, predictionType) = (location.config, location.variant, location.predictionType)
        let seedList = try ArgumentCheck.seeds(seeds)
        let pipe = try StableDiffusionPipeline.load(path: model, configFolder: config,
                                                    compute: ComputeEnvironment.current.applied(to: ComputeSettings()),
                                                    predictionType: predictionType, variant: variant)
        let kind = try scheduler ?? SchedulerKind(modelConfig: pipe.schedulerConfig)
        let sched = try kind.make(config: pipe.schedulerConfig, steps: steps)
        var space = PlanSpace(kind: self.space, calls: sched.callCount, steps: steps)
        space.depthValues = try ArgumentCheck.integers(depths, "--depths", in: 0...AccelerationPlan.fullDepth, distinct: true)
        space.method = try PruningMethod(parsing: method)
        let units = pipe.models.unet.unitCount
        do {   // checked against the loaded model's units (the syntax was checked in validate())
            if let fixedDepths { space.fixedDepths = try PlanPresets.resolve(fixedDepths, calls: sched.callCount, steps: steps, units: units).depths }
        } catch { throw ArgumentError("--fixed-depths", "\(error)") }
        do { try space.validate(units: units) } catch { throw ArgumentError("--depths", "\(error)") }
        let native = pipe.nativeSize
        var options = PlanSearch.Options(prompts: promptList, seeds: seedList)
        options.steps = steps; options.width = width ?? native; options.height = height ?? native
        options.guidanceScale = cfgScale; options.scheduler = kind
        options.quality = try QualityMetric(parsing: quality)
        options.cost = cost
        options.maxQualityLoss = maxQualityLoss
        options.scorerTimeout = scorerTimeout
        let identity = try ModelIdentity.of(model: model, configFolder: config, variant: variant, predictionType: predictionType,
                                            digestCache: CacheDirectory.current)
        return (PlanSearch(pipeline: pipe, space: space, options: options, journal: try journal(identity)), sched.callCount, units)
    }

    static func checkGrace(_ grace: Double) throws {
        guard grace.isFinite, grace > 0, grace <= 86_400 else { throw ArgumentError("--grace", "must be a number of seconds in (0, 86400]") }
    }

    static func readPrompts(_ path: String?) throws -> [String] {
        guard let path else { throw ValidationError("give --prompts FILE (one prompt per line)") }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("cannot read prompt file '\(path)' as UTF-8 text")
        }
        let list = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw ValidationError("prompt file '\(path)' holds no prompt") }
        return list
    }

    /// Re-runs a journal's search with its stored settings (the prompts come from the journal).
    static func resume(journal: String, study: String, threads: Int?, out: String, scorerTimeout: Double) throws {
        let s = PostgresLocation.isURL(journal)
            ? try JournalOpening.join(journal, study: study, role: "resume").settings : try SearchJournal.settings(path: journal)
        guard let prompts = s["prompts"] else { throw ValidationError("'\(journal)' is not a search journal (no settings)") }
        let promptFile = FileManager.default.temporaryDirectory.appendingPathComponent("dato-resume-\(getpid()).txt").path
        try OutputFile.write(Data(prompts.utf8), to: promptFile)
        defer { try? FileManager.default.removeItem(atPath: promptFile) }
        var args = ["--journal", journal, "--study", study, "--out", out, "--prompts", promptFile] + arguments(from: s)
        if let threads { args += ["--threads", String(threads)] }
        args += ["--scorer-timeout", String(scorerTimeout)]
        let command = try Search.parse(args)
        try command.run()
    }

    /// The options that give a search the stored `settings` (all but the journal, the prompts and the output).
    static func arguments(from s: [String: String]) -> [String] {
        var args: [String] = []
        let flags: [(String, String)] = [("space", "--space"), ("seeds", "--seeds"), ("population", "--population"), ("generations", "--generations"),
                                         ("seed", "--seed"), ("quality", "--quality"), ("cost", "--cost"), ("max_quality_loss", "--max-quality-loss"),
                                         ("depths", "--depths"), ("fixed_depths", "--fixed-depths"), ("method", "--method"), ("steps", "--steps"),
                                         ("scheduler", "--scheduler"), ("cfg_scale", "--cfg-scale"), ("width", "--width"), ("height", "--height"),
                                         ("model", "--model"), ("config", "--config"), ("variant", "--variant"),
                                         ("prediction_type", "--prediction-type")]
        for (key, flag) in flags { if let v = s[key], !v.isEmpty { args += [flag, v] } }
        if s["constrained_sampling"] == "true" { args.append("--constrained-sampling") }
        return args
    }

    static func writeOutputs(journal: JournalStore, presets: [(String, JournalEntry)], quality: String, cost: String, out: String) throws {
        let all = try journal.entries()
        let front = FrontReport.front(all)
        try FrontFiles.write(all: all, front: front, references: presets, quality: quality, cost: cost, folder: out)
        print("\nPareto front (\(front.count) plans of \(all.count) evaluated; \(out)/front.json, front.csv, front.svg, front.png):")
        print("  speed-up  quality loss  plan")
        for e in front { print(String(format: "  %7.2fx  %12.5g  ", 1 / max(e.evaluation.objectives[1], 1e-12), e.qualityLoss) + e.plan) }
        for (name, e) in presets { print(String(format: "  %7.2fx  %12.5g  preset ", 1 / max(e.evaluation.objectives[1], 1e-12), e.qualityLoss) + name) }
    }
}
