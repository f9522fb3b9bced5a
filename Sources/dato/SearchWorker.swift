import ArgumentParser
import DatoSearch
import DatoSearchPostgres
import Foundation

/// `dato search-worker`: evaluates candidates of a shared search until its coordinator ends it.
struct SearchWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-worker",
        abstract: "Evaluate the candidates of a shared search (a PostgreSQL journal) until its coordinator ends it.",
        discussion: """
            Start `dato search --journal postgresql://...` first (the coordinator); then run any number of workers on \
            machines that have the same model (checked by its identity: every component's weights and configs). \
            A worker claims one pending candidate at a time (SELECT ... FOR UPDATE SKIP LOCKED), heart-beats while it \
            evaluates it, and stores the result; a claim without a heartbeat for --grace seconds goes back to the queue.
            """
    )

    @Option(help: "The study's PostgreSQL journal: postgresql://user[:password]@host[:port]/db[?sslmode=...] (missing parts from PG* variables and ~/.pgpass).") var journal: String
    @Option(help: "The study in the database.") var study = JournalOpening.defaultStudy
    @Option(parsing: .unconditional, help: "Seconds without a heartbeat after which another process's claim goes back to the queue.") var grace = 60.0
    @Option(parsing: .unconditional, help: "Seconds between looks at an empty queue.") var poll = 1.0
    @Option(name: [.short, .customLong("model")], help: "This machine's copy of the model (default: the path the coordinator was given, or the demo model).") var model: String?
    @Option(help: "This machine's config folder for a single-file checkpoint (default: the coordinator's).") var config: String?
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: .customLong("scorer-timeout"), help: "Seconds a --quality command scorer may take per call.") var scorerTimeout = QualityMetric.defaultScorerTimeout

    func validate() throws {
        try checkArguments {
            try Search.checkGrace(grace)
            guard poll.isFinite, poll >= 0.01, poll <= 3600 else { throw ArgumentError("--poll", "must be a number of seconds in [0.01, 3600]") }
        }
    }

    func run() throws {
        threadOptions.apply()
        let shared = try JournalOpening.join(journal, study: study, role: "worker")
        let stored = shared.settings
        guard let prompts = stored["prompts"], let identity = stored["model_identity"] else { throw ValidationError("\(shared.name) has no search settings") }
        if let version = stored["version"], version != Dato.configuration.version {
            throw ValidationError("\(shared.name) was started by dato \(version); this is \(Dato.configuration.version): run the same version on every machine")
        }
        var args = ["--journal", journal, "--study", study] + Search.arguments(from: stored)
        if let i = args.firstIndex(of: "--model") { args.removeSubrange(i...(i + 1)) }
        if let i = args.firstIndex(of: "--config") { args.removeSubrange(i...(i + 1)) }
        if let model = model ?? stored["model"].flatMap({ $0.isEmpty ? nil : $0 }) { args += ["--model", model] }
        if let config = config ?? stored["config"].flatMap({ $0.isEmpty ? nil : $0 }) { args += ["--config", config] }
        args += ["--scorer-timeout", String(scorerTimeout)]
        let search = try Search.parse(args)
        let promptList = prompts.split(separator: "\n").map(String.init)
        print("worker \(shared.worker.id): \(shared.name); loading the model and checking its identity...")
        let problem = try search.load(prompts: promptList) { mine in
            guard mine == identity else {
                throw ValidationError("this worker's model (identity \(mine.prefix(12))...) is not the one \(shared.name) was started with (\(identity.prefix(12))...): give --model the same weights and configs")
            }
            return shared
        }.problem
        var sharing = PlanSearch.Sharing(queue: shared)
        sharing.grace = grace; sharing.poll = poll
        problem.onEvaluation = { entry, _ in
            print(String(format: "evaluated: loss %.5g, cost %.4g, %.2f s: %@", entry.qualityLoss, entry.evaluation.objectives[1], entry.seconds, entry.plan))
        }
        let count = try problem.work(sharing)
        print("worker \(shared.worker.id): \(count) evaluation(s); the study has ended")
    }
}
