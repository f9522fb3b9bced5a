@testable import DatoCore
import Foundation
import XCTest

/// `OutputFile` failure paths: the old file is untouched and no temporary file is left (issue 20).
final class OutputFileTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-outfile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    struct Interrupted: Error {}

    func listing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    func testFailureBeforeRenameKeepsOldFileAndRemovesTemporary() throws {
        let path = folder + "/out.png"
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try OutputFile.write(Data("new".utf8), to: path, beforeRename: { throw Interrupted() })) {
            XCTAssertTrue($0 is Interrupted)
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        XCTAssertEqual(listing(), ["out.png"])
    }

    /// A FIFO swapped in while the data is written is not replaced.
    func testDestinationSwappedForFIFOWhileWritingIsKept() throws {
        let path = folder + "/out.png"
        XCTAssertThrowsError(try OutputFile.write(Data("new".utf8), to: path, beforeRename: {
            XCTAssertEqual(mkfifo(path, 0o600), 0)
        })) { XCTAssertTrue("\($0)".hasPrefix("cannot write \(path): "), "\($0)") }
        var s = stat()
        XCTAssertEqual(lstat(path, &s), 0)
        XCTAssertEqual(s.st_mode & 0o170000, 0o010000)
        XCTAssertEqual(listing(), ["out.png"])
    }

    /// Temporary names stay short and cut the name at a character boundary.
    func testTemporaryNamesAreShort() {
        for name in [String(repeating: "a", count: 255), String(repeating: "é", count: 127), String(repeating: "😀", count: 63)] {
            let temporary = OutputFile.temporaryName(for: name)
            XCTAssertLessThanOrEqual(temporary.utf8.count, 100)
            XCTAssertTrue(temporary.hasPrefix("."))
            XCTAssertTrue(temporary.hasSuffix(".tmp"))
            XCTAssertTrue(name.hasPrefix(String(temporary.dropFirst().prefix { $0 != "." })))
        }
    }
}
