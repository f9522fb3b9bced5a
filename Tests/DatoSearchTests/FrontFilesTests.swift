import DatoCore
import DatoSearch
import Foundation
import XCTest

/// `dato search --out`: the report folder and files are checked before the search (issue 20).
final class FrontFilesTests: XCTestCase {
    func testOutputFolderIsCheckedBeforeTheSearch() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-front-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FrontFiles.check(folder: folder + "/new/out")   // created later
        try FrontFiles.check(folder: folder)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
        XCTAssertEqual(mkfifo(folder + "/front.svg", 0o644), 0)
        XCTAssertThrowsError(try FrontFiles.check(folder: folder)) {
            XCTAssertEqual("\($0)", "cannot write \(folder)/front.svg: it is a FIFO (named pipe), not a regular file")
        }
        try Data().write(to: URL(fileURLWithPath: folder + "/plain"))
        XCTAssertThrowsError(try FrontFiles.check(folder: folder + "/plain/out")) {
            XCTAssertTrue("\($0)".hasPrefix("cannot write \(folder)/plain/out: "), "\($0)")
        }
    }
}
