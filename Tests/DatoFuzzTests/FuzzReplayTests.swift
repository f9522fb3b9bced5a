import Foundation
import XCTest

/// Replays the fuzz targets' inputs kept in tools/fuzz: the seed corpus (`corpus/TARGET/`) and every crasher
/// fuzzing found once its fix is in (`regressions/TARGET/`). A crasher that crashes again stops `swift test`
/// here, naming the target and file first.
final class FuzzReplayTests: XCTestCase {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools/fuzz")

    func testSeedCorpusReplays() throws {
        let count = try replay("corpus")
        XCTAssertGreaterThan(count, 0, "no seed corpus under \(Self.fuzzFolder.path)/corpus")
    }

    func testFixedCrashersReplay() throws {
        _ = try replay("regressions")
    }

    func testEveryTargetHasSeeds() {
        for target in FuzzTargets.all {
            let folder = Self.fuzzFolder.appendingPathComponent("corpus/\(target.name)").path
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            XCTAssertFalse(files.isEmpty, "no seeds for fuzz target '\(target.name)' in \(folder)")
        }
    }

    /// Runs every file of `kind/TARGET/` through TARGET; returns how many there were.
    func replay(_ kind: String) throws -> Int {
        var count = 0
        for target in FuzzTargets.all {
            let folder = Self.fuzzFolder.appendingPathComponent("\(kind)/\(target.name)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let data = try Data(contentsOf: folder.appendingPathComponent(name))
                if kind == "regressions" {   // few files: name each, in case it crashes again
                    FileHandle.standardError.write(Data("replaying \(kind)/\(target.name)/\(name)\n".utf8))
                }
                target.run(data)
                count += 1
            }
        }
        return count
    }
}
