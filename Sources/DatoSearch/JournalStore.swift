/// Where a search keeps its settings and evaluations: the SQLite file of a single machine (`SearchJournal`)
/// or a study in a shared database (the PostgreSQL journal of DatoSearchPostgres). A store made for a
/// search holds the settings it was started with and refuses other settings; every evaluation is stored as
/// soon as it finishes, so a search run again on the same store takes them from there instead of repeating
/// them.
public protocol JournalStore: AnyObject {
    /// How messages name the store: "journal 'PATH'" or "study 'NAME' on postgresql://user@host:port/db"
    /// (never with a password).
    var name: String { get }
    /// The stored evaluation of a genome, if any.
    func entry(for genome: [Double]) throws -> JournalEntry?
    /// Every stored evaluation, in the order they were stored.
    func entries() throws -> [JournalEntry]
    /// Stores one evaluation (its own transaction).
    func record(_ entry: JournalEntry) throws
    /// Stores a generation's front (genomes) and the evaluation count so far.
    func recordGeneration(_ index: Int, evaluations: Int, front: [[Double]]) throws
    /// The last generation recorded (0 if none).
    func lastGeneration() throws -> Int
}

extension JournalStore {
    /// The text form of a genome that stores use as its key ("0,12,1").
    public static func key(_ genome: [Double]) -> String { SearchJournal.key(genome) }
}
