@testable import DatoSearch
import DatoDigest
import Foundation
import XCTest

/// Hostile journals: damaged evaluation rows, files that are not swift-dato journals (other SQLite databases,
/// random bytes, PNGs, special files), and a model changed under an existing journal.
final class JournalHostileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("journal-hostile-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func entry(_ genome: [Double], loss: Double, cost: Double) -> JournalEntry {
        JournalEntry(genome: genome, plan: "full", evaluation: Evaluation(objectives: [loss, cost], constraints: []),
                     qualityLoss: loss, macFraction: cost, seconds: 1)
    }

    /// Every file in the folder with a digest of its bytes (so a changed byte, or a new -wal/-shm file, shows).
    func snapshot() throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let type = try FileManager.default.attributesOfItem(atPath: path(name))[.type] as? FileAttributeType
            out[name] = type == .typeRegular ? SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path(name)))) : "\(String(describing: type))"
        }
        return out
    }

    /// Opening `file` as a journal (new search and --resume) throws an error naming it, and changes nothing.
    func assertRefused(_ file: String, _ words: String, line: UInt = #line) throws {
        let before = try snapshot()
        XCTAssertThrowsError(try SearchJournal(path: file, settings: ["a": "b"]), line: line) {
            XCTAssertTrue("\($0)".contains(file), "\($0)", line: line)
            XCTAssertTrue("\($0)".contains(words), "\($0)", line: line)
        }
        XCTAssertThrowsError(try SearchJournal.settings(path: file), line: line) {
            XCTAssertTrue("\($0)".contains(words), "\($0)", line: line)
        }
        XCTAssertEqual(try snapshot(), before, "not a byte changed, no file added", line: line)
    }

    // MARK: damaged rows

    /// Rows whose objectives, constraints, genome or measurements do not parse as the journal writes them are
    /// one error naming the journal, the row and the column (the original trapped, after writing front files).
    func testDamagedRowsAreErrors() throws {
        let file = path("damaged.sqlite")
        let damage: [(String, String)] = [
            ("objectives = '0.5'", "objectives"), ("objectives = 'nan,1'", "objectives"), ("objectives = '1,abc'", "objectives"),
            ("objectives = ''", "objectives"), ("objectives = '1,2,3'", "objectives"), ("objectives = '1,,2'", "objectives"),
            ("objectives = 'inf,0.5'", "objectives"), ("constraints = 'nan'", "constraints"), ("constraints = '1,2'", "constraints"),
            ("genome = 'x,1'", "genome"), ("genome = '1e300'", "genome"), ("genome = '0.5'", "genome"),
            ("quality_loss = 'abc'", "quality_loss"), ("seconds = X'00'", "seconds"), ("plan = X'00'", "plan"),
        ]
        for (i, (change, column)) in damage.enumerated() {
            try? FileManager.default.removeItem(atPath: file)
            let journal = try SearchJournal(path: file, settings: ["test": "damaged"])
            try journal.record(entry([1, 2], loss: 0.1, cost: 0.5))
            try journal.record(entry([2, 2], loss: 0.2, cost: 0.4))
            try journal.db.execute("UPDATE evaluations SET \(change) WHERE ordinal = 1")
            XCTAssertThrowsError(try journal.entries(), "case \(i): \(change)") {
                let m = "\($0)"
                XCTAssertTrue(m.contains(file) && m.contains("row 2") && m.contains("column \(column)"), "\(change): \(m)")
            }
            if column != "genome" {
                XCTAssertThrowsError(try journal.entry(for: [2, 2]), change)
                XCTAssertEqual(try journal.entry(for: [1, 2])?.evaluation.objectives, [0.1, 0.5])
            }
        }
    }

    // MARK: files that are not journals

    /// Another program's SQLite database is refused by a new search and by --resume, not a byte changed: the
    /// original added three tables and switched it to WAL mode.
    func testForeignDatabaseIsNotTouched() throws {
        let file = path("foreign.sqlite")
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        do {
            let db = try SQLite(path: file, mode: .readWrite)
            try db.execute("CREATE TABLE people (name TEXT)")
            try db.execute("INSERT INTO people VALUES ('ada')")
        }
        try assertRefused(file, "not a swift-dato search journal")
        // A database with the journal's tables but no journal id (as older versions made them) is refused too.
        let legacy = path("legacy.sqlite")
        _ = FileManager.default.createFile(atPath: legacy, contents: nil)
        do {
            let db = try SQLite(path: legacy, mode: .readWrite)
            for table in JournalFormat.tables { try db.execute(table.sql) }
        }
        try assertRefused(legacy, "application id 0x00000000")
    }

    /// Files that are not SQLite at all, empty files, and an empty path.
    func testNonSQLiteFilesAreNotTouched() throws {
        var random = SystemRandomNumberGenerator()
        let samples: [(String, [UInt8])] = [
            ("random.bin", (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }),
            ("image.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 200)),
            ("empty.sqlite", []),
            ("text.txt", Array("SQLite format 3 but not really\n".utf8)),
        ]
        for (name, bytes) in samples {
            _ = FileManager.default.createFile(atPath: path(name), contents: Data(bytes))
            try assertRefused(path(name), "not an SQLite database")
        }
        XCTAssertThrowsError(try SearchJournal(path: "", settings: [:])) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        XCTAssertThrowsError(try SearchJournal.settings(path: "")) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
    }

    /// Only regular files: a directory, a FIFO (SQLite would block opening it), a dangling symbolic link.
    func testSpecialFilesAreRefused() throws {
        let folder = path("folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try assertRefused(folder, "a directory")
        let fifo = path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        try assertRefused(fifo, "a FIFO")
        try FileManager.default.createSymbolicLink(atPath: path("dangling"), withDestinationPath: path("nowhere"))
        try assertRefused(path("dangling"), "symbolic link to nothing")
        try assertRefused("/dev/null", "a character device")
    }

    /// A journal made here carries the id and schema version in its header, and opens again (also read-only);
    /// no temporary file is left beside it.
    func testNewJournalIsMarkedAndReopens() throws {
        let file = path("new.sqlite")
        do {
            let journal = try SearchJournal(path: file, settings: ["k": "v"])
            try journal.record(entry([1], loss: 0.1, cost: 0.9))
        }
        let header = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)).prefix(100))
        XCTAssertEqual(Array(header[68..<72]), [0x44, 0x61, 0x54, 0x6F])   // "DaTo"
        XCTAssertEqual(Array(header[60..<64]), [0, 0, 0, 1])
        XCTAssertEqual(try SearchJournal.settings(path: file), ["k": "v"])
        XCTAssertEqual(try SearchJournal(path: file, settings: ["k": "v"]).entries().count, 1)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasPrefix(".dato-journal") })
        XCTAssertThrowsError(try SearchJournal.settings(path: path("missing.sqlite"))) { XCTAssertTrue("\($0)".contains("no journal"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("missing.sqlite")), "--resume creates nothing")
    }

    // MARK: model identity

    /// The journal's model identity covers every component: changing the VAE config, the scheduler config,
    /// the text encoder weights or the tokenizer of a copied model changes it, so the journal started on the
    /// original refuses the changed model instead of reusing its evaluations (the original identity was the
    /// UNet weights' hash alone).
    func testModelIdentityCoversEveryComponent() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DatoPipelineTests/Fixtures/tiny-sd")
        let model = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: fixture, to: model)
        let original = try ModelIdentity.of(model: model.path, configFolder: nil)
        XCTAssertEqual(try ModelIdentity.of(model: model.path, configFolder: nil), original, "stable")
        let file = path("model.sqlite")
        _ = try SearchJournal(path: file, settings: ["model_identity": original])

        func append(_ relative: String, _ text: String) throws {
            let handle = try FileHandle(forWritingTo: model.appendingPathComponent(relative))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        }
        func flipByte(_ relative: String) throws {
            let url = model.appendingPathComponent(relative)
            var bytes = [UInt8](try Data(contentsOf: url))
            bytes[bytes.count - 7] ^= 1
            try Data(bytes).write(to: url)
        }
        var seen = [original]
        let changes: [(String, () throws -> Void)] = [
            ("vae config", { try append("vae/config.json", "\n") }),
            ("scheduler config", { try append("scheduler/scheduler_config.json", " ") }),
            ("text encoder weights", { try flipByte("text_encoder/model.fp16.safetensors") }),
            ("vae weights", { try flipByte("vae/diffusion_pytorch_model.fp16.safetensors") }),
            ("tokenizer.json (read before vocab.json and merges.txt)", { try append("tokenizer/tokenizer.json", "\n") }),
            ("tokenizer config", { try append("tokenizer/tokenizer_config.json", " ") }),
            ("scheduler config removed", { try FileManager.default.removeItem(at: model.appendingPathComponent("scheduler/scheduler_config.json")) }),
        ]
        for (what, change) in changes {
            try change()
            let identity = try ModelIdentity.of(model: model.path, configFolder: nil)
            XCTAssertFalse(seen.contains(identity), "\(what) changes the identity")
            seen.append(identity)
            XCTAssertThrowsError(try SearchJournal(path: file, settings: ["model_identity": identity]), what) {
                XCTAssertTrue("\($0)".contains("other settings"), "\($0)")
            }
        }
        // A single-file checkpoint with a config folder: the folder's configs count as well.
        let checkpoint = path("model.safetensors")
        try FileManager.default.copyItem(atPath: model.appendingPathComponent("unet/diffusion_pytorch_model.fp16.safetensors").path, toPath: checkpoint)
        let single = try ModelIdentity.of(model: checkpoint, configFolder: model.path)
        XCTAssertNotEqual(try ModelIdentity.of(model: checkpoint, configFolder: nil), single)
        try append("unet/config.json", "\n")
        XCTAssertNotEqual(try ModelIdentity.of(model: checkpoint, configFolder: model.path), single)
    }

    /// Large weights are hashed once and cached by path, size, modification time and inode: a changed file
    /// of the same size is hashed again.
    func testWeightsDigestCacheFollowsChanges() throws {
        let cache = URL(fileURLWithPath: path("cache/swift-dato"))
        let file = path("big.safetensors")
        var bytes = [UInt8](repeating: 1, count: FileDigest.uncachedBelow + 10)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let first = try FileDigest.sha256(file, cacheDirectory: cache)
        XCTAssertEqual(first, SHA256.hex(Data(bytes)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("cache/swift-dato/file-digests.json")))
        XCTAssertEqual(try FileDigest.sha256(file, cacheDirectory: cache), first)
        bytes[5] = 2
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try FileDigest.sha256(file, cacheDirectory: cache), SHA256.hex(Data(bytes)))
        XCTAssertThrowsError(try FileDigest.sha256(dir.path)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }
}
