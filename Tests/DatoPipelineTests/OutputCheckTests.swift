import DatoCore
import DatoImage
import Foundation
import XCTest

/// Output locations are checked before any generation starts (`OutputFile.check`, `OutputNaming.check`,
/// `OutputFolder`), and special targets of symbolic links are refused (issue 20).
final class OutputCheckTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-outcheck-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func listing(_ path: String? = nil) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path ?? folder)) ?? []).sorted()
    }

    func assertRefused(_ body: @autoclosure () throws -> Void, naming path: String, mentions word: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? OutputFileError else { return XCTFail("\(type(of: error)): \(error)", file: file, line: line) }
            XCTAssertEqual(e.path, path, file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix("cannot write \(path.isEmpty ? "''" : path): "), e.description, file: file, line: line)
            XCTAssertTrue(e.reason.contains(word), "\(e.reason) should mention \(word)", file: file, line: line)
        }
    }

    /// Every name of the batch is checked, '%d' expansions and -N suffixes included, and nothing is created.
    func testBatchNamesAreCheckedBeforeGeneration() throws {
        try OutputNaming.check(folder + "/out.png", total: 1)
        try OutputNaming.check(folder + "/img-%d.png", total: 5)
        assertRefused(try OutputNaming.check(folder + "/missing/out.png", total: 1), naming: folder + "/missing/out.png", mentions: "does not exist")
        try FileManager.default.createDirectory(atPath: folder + "/img-2.png", withIntermediateDirectories: false)
        assertRefused(try OutputNaming.check(folder + "/img-%d.png", total: 3), naming: folder + "/img-2.png", mentions: "folder")
        XCTAssertEqual(mkfifo(folder + "/out-3.png", 0o644), 0)
        assertRefused(try OutputNaming.check(folder + "/out.png", total: 3), naming: folder + "/out-3.png", mentions: "FIFO")
        assertRefused(try OutputNaming.check("", total: 1), naming: "", mentions: "empty")
        let long = folder + "/" + String(repeating: "x", count: 252) + ".png"
        assertRefused(try OutputNaming.check(long, total: 1), naming: long, mentions: "256 bytes")
        assertRefused(try OutputFile.check(folder + "/"), naming: folder + "/", mentions: "folder, not a file")
        XCTAssertEqual(listing(), ["img-2.png", "out-3.png"])
    }

    /// A link to /dev/null is refused; /dev/null itself must stay the same character device. The write is only
    /// attempted once the check refused, so a broken implementation could never replace the real /dev/null.
    func testSymlinkToDevNullIsRefused() throws {
        var before = stat(), after = stat()
        XCTAssertEqual(stat("/dev/null", &before), 0)
        let link = folder + "/out.png"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/null")
        assertRefused(try OutputFile.check(link), naming: link, mentions: "character device")
        if (try? OutputFile.check(link)) == nil {
            assertRefused(try OutputFile.write(Data("x".utf8), to: link), naming: link, mentions: "character device")
        }
        XCTAssertEqual(stat("/dev/null", &after), 0)
        XCTAssertEqual(after.st_mode & 0o170000, 0o020000)
        XCTAssertEqual(after.st_ino, before.st_ino)
        XCTAssertEqual(after.st_rdev, before.st_rdev)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "/dev/null")
        XCTAssertEqual(listing(), ["out.png"])
    }

    /// A dangling link is written through when its target's folder exists (the link is kept), refused otherwise.
    func testDanglingLinks() throws {
        let link = folder + "/new.png", missing = folder + "/nowhere.png"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "sub/target.png")
        assertRefused(try OutputFile.check(link), naming: link, mentions: "does not exist")
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: false)
        try OutputFile.write(Data("data".utf8), to: link)
        XCTAssertEqual(try String(contentsOfFile: folder + "/sub/target.png", encoding: .utf8), "data")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "sub/target.png")
        try FileManager.default.createSymbolicLink(atPath: missing, withDestinationPath: folder + "/gone/x.png")
        assertRefused(try OutputFile.write(Data(), to: missing), naming: missing, mentions: "does not exist")
        XCTAssertEqual(listing(), ["new.png", "nowhere.png", "sub"])
    }

    func testSymlinkLoopIsRefused() throws {
        let a = folder + "/a.png", b = folder + "/b.png"
        try FileManager.default.createSymbolicLink(atPath: a, withDestinationPath: "b.png")
        try FileManager.default.createSymbolicLink(atPath: b, withDestinationPath: "a.png")
        assertRefused(try OutputFile.write(Data(), to: a), naming: a, mentions: "symbolic links")
        XCTAssertEqual(listing(), ["a.png", "b.png"])
    }

    /// `dato search --out`: a missing folder (and its parents) is fine and only created when writing.
    func testOutputFolder() throws {
        let nested = folder + "/x/y/z"
        try OutputFolder.check(nested)
        XCTAssertEqual(listing(), [])
        try OutputFolder.create(nested)
        try OutputFolder.create(nested)
        try OutputFile.write(Data("ok".utf8), to: nested + "/f.txt")
        XCTAssertEqual(listing(nested), ["f.txt"])
        try Data().write(to: URL(fileURLWithPath: folder + "/file"))
        assertRefused(try OutputFolder.check(folder + "/file"), naming: folder + "/file", mentions: "not a folder")
        assertRefused(try OutputFolder.create(folder + "/file/sub"), naming: folder + "/file/sub", mentions: "Not a directory")
        assertRefused(try OutputFolder.check(""), naming: "", mentions: "empty")
    }

    /// New files get 0644 less the umask; a replaced file keeps its permission bits.
    func testModes() throws {
        let mask = umask(0o022)
        defer { umask(mask) }
        let path = folder + "/m.png"
        try OutputFile.write(Data("1".utf8), to: path)
        var s = stat()
        XCTAssertEqual(stat(path, &s), 0)
        XCTAssertEqual(s.st_mode & 0o777, 0o644)
        XCTAssertEqual(chmod(path, 0o640), 0)
        try OutputFile.write(Data("2".utf8), to: path)
        XCTAssertEqual(stat(path, &s), 0)
        XCTAssertEqual(s.st_mode & 0o777, 0o640)
    }
}
