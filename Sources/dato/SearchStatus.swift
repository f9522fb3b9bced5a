import ArgumentParser
import DatoSearch
import DatoSearchPostgres
import Foundation

/// `dato search-status`: where a shared search stands.
struct SearchStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-status",
        abstract: "Show a shared search's generation, candidates (pending / running / done), workers and front so far."
    )

    @Option(help: "The study's PostgreSQL journal URL.") var journal: String
    @Option(help: "The study in the database.") var study = JournalOpening.defaultStudy

    func run() throws {
        let shared = try JournalOpening.join(journal, study: study, role: "status")
        let s = try shared.status()
        let generations = shared.settings["generations"] ?? "?"
        print("\(shared.name): generation \(s.generation)/\(generations)\(s.finished ? ", finished" : "")")
        print("candidates: \(s.pending) pending, \(s.running) running, \(s.done) done; \(s.entries.count) evaluations stored; \(s.claims) claims, \(s.reclaimed) candidate(s) claimed again after a silent worker")
        print("workers:")
        for w in s.workers {
            print(String(format: "  %@  host %@  %d evaluation(s)  last seen %.0f s ago", w.worker, w.host, w.evaluations, w.secondsSinceSeen))
        }
        let front = FrontReport.front(s.entries)
        print("front so far (\(front.count) plans):")
        print("  speed-up  quality loss  plan")
        for e in front { print(String(format: "  %7.2fx  %12.5g  ", 1 / max(e.evaluation.objectives[1], 1e-12), e.qualityLoss) + e.plan) }
    }
}
