/// A candidate a worker took from the queue: its row and its genome.
public struct Claim: Sendable, Equatable {
    public let id: Int64
    public let genome: [Double]
    public init(id: Int64, genome: [Double]) { self.id = id; self.genome = genome }
}

/// A journal that several processes share: the coordinator writes each generation's candidates as pending,
/// any process (the coordinator too, workers on other machines) claims one at a time, heart-beats while it
/// evaluates it and stores the result. A claim whose heartbeat is older than the claimer's grace period
/// counts as abandoned and can be claimed again.
public protocol CandidateQueue: JournalStore {
    /// Adds the genomes that are neither evaluated nor queued as pending candidates of `generation`.
    func enqueue(_ genomes: [[Double]], generation: Int) throws
    /// Takes one pending candidate, or one whose claim has not heart-beaten for `grace` seconds; nil when
    /// there is none.
    func claim(grace: Double) throws -> Claim?
    /// Tells the others that the claim is still being evaluated.
    func heartbeat(_ claim: Claim) throws
    /// Stores the claim's evaluation and marks the candidate done, in one transaction.
    func finish(_ claim: Claim, entry: JournalEntry) throws
    /// Tells the others that this process is alive while it waits (shown by `dato search-status`).
    func seen() throws
    /// Marks the study as ended (the coordinator, after its last generation): workers then stop.
    func markFinished() throws
    /// Whether the coordinator has ended the study.
    func isFinished() throws -> Bool
}
