import Foundation

extension PlanSearch {
    /// How a shared search runs: the queue, whether this process evaluates candidates too, and its timing.
    public struct Sharing {
        public var queue: CandidateQueue
        /// Whether this process evaluates candidates itself (false: `--no-evaluate`, it only coordinates).
        public var evaluates = true
        /// Seconds without a heartbeat after which another process's claim counts as abandoned.
        public var grace = 60.0
        /// Seconds between looks at the queue while there is nothing to claim.
        public var poll = 0.5
        public init(queue: CandidateQueue) { self.queue = queue }
        /// Seconds between heartbeats: a third of the grace period, at most 10.
        var heartbeatInterval: Double { min(10, max(0.05, grace / 3)) }
    }

    /// The coordinator's evaluation of one generation: the genomes not yet in the journal become pending
    /// candidates; this process claims and evaluates them too (unless it only coordinates) and waits until
    /// every one has a result, whoever made it.
    func evaluateShared(_ genomes: [[Double]], _ sharing: Sharing) throws -> [Evaluation] {
        var missing = try genomes.filter { try stored($0) == nil }
        try sharing.queue.enqueue(missing, generation: batches)
        var mine = Set<String>()
        while !missing.isEmpty {
            if sharing.evaluates, let claim = try sharing.queue.claim(grace: sharing.grace) {
                mine.insert(SearchJournal.key(try evaluate(claim, sharing).genome))
            } else {
                try sharing.queue.seen()
                Thread.sleep(forTimeInterval: sharing.poll)
            }
            missing = try missing.filter { try stored($0) == nil }
        }
        return try genomes.map { g in
            guard let e = try stored(g) else { throw SearchError("\(journal.name) lost the evaluation of genome \(SearchJournal.key(g))") }
            onEvaluation?(e, !mine.contains(SearchJournal.key(g)))
            return e.evaluation
        }
    }

    /// Evaluates one claimed candidate, heart-beating meanwhile, and stores its result.
    @discardableResult
    func evaluate(_ claim: Claim, _ sharing: Sharing) throws -> JournalEntry {
        let heartbeat = Heartbeat(every: sharing.heartbeatInterval) { try sharing.queue.heartbeat(claim) }
        let entry: JournalEntry
        do {
            entry = try measure(claim.genome)
            heartbeat.stop()
        } catch {
            heartbeat.stop()
            throw error
        }
        try sharing.queue.finish(claim, entry: entry)
        return entry
    }

    /// A worker: claims and evaluates candidates until the coordinator ends the study (or `shouldStop`
    /// says so between candidates). Returns the number of candidates this worker evaluated.
    public func work(_ sharing: Sharing, shouldStop: () -> Bool = { false }) throws -> Int {
        try prepare()
        var done = 0
        while !shouldStop() {
            if let claim = try sharing.queue.claim(grace: sharing.grace) {
                onEvaluation?(try evaluate(claim, sharing), false)
                done += 1
            } else if try sharing.queue.isFinished() {
                break
            } else {
                try sharing.queue.seen()
                Thread.sleep(forTimeInterval: sharing.poll)
            }
        }
        return done
    }
}
