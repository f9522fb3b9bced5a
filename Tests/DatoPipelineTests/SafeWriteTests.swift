import DatoCore
import DatoImage
import Foundation
import XCTest

/// Output files: only regular files are written, symbolic links written through, names up to NAME_MAX,
/// one-line errors, nothing left behind (issue 20). These use the writers' existing API only.
final class SafeWriteTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-safewrite-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A 2x2 PNG written to `path`, on another thread, failing the test instead of hanging if it blocks
    /// (e.g. in open() on a FIFO, which is then opened for reading to release it).
    func writePNG(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> Error? {
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var error: Error? }
        let box = Box()
        Thread.detachNewThread {
            do { try PNGWriter.write(pixels: [UInt8](repeating: 200, count: 12), width: 2, height: 2, to: path) } catch { box.error = error }
            done.signal()
        }
        if done.wait(timeout: .now() + 20) == .timedOut {
            XCTFail("writing \(path) blocked", file: file, line: line)
            let fd = open(path, O_RDONLY | O_NONBLOCK)
            _ = done.wait(timeout: .now() + 5)
            if fd >= 0 { close(fd) }
        }
        return box.error
    }

    func kind(_ path: String) -> mode_t? {
        var s = stat()
        return lstat(path, &s) == 0 ? s.st_mode & 0o170000 : nil
    }

    func listing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    func assertOneLine(_ error: Error?, path: String, mentions word: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let error else { return XCTFail("writing \(path) did not fail", file: file, line: line) }
        let text = "\(error)"
        XCTAssertTrue(text.hasPrefix("cannot write \(path): "), "not a one-line error naming the file: \(text)", file: file, line: line)
        XCTAssertTrue(text.contains(word), "\(text) should mention \(word)", file: file, line: line)
        XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
    }

    func testFIFOIsRefusedWithoutBlockingAndKept() throws {
        let fifo = folder + "/out.png"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        assertOneLine(writePNG(fifo), path: fifo, mentions: "FIFO")
        XCTAssertEqual(kind(fifo), 0o010000, "the FIFO was replaced")
        XCTAssertEqual(listing(), ["out.png"])
    }

    func testFolderAsDestinationIsRefused() throws {
        let dir = folder + "/out.png"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        assertOneLine(writePNG(dir), path: dir, mentions: "folder")
        XCTAssertEqual(kind(dir), 0o040000)
        XCTAssertEqual(listing(), ["out.png"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    /// The link stays a link (to the same target) and its target, a regular file, gets the PNG and keeps its mode.
    func testSymlinkToRegularFileIsWrittenThrough() throws {
        let target = folder + "/real.png", link = folder + "/link.png"
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        XCTAssertEqual(chmod(target, 0o600), 0)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.png")
        XCTAssertNil(writePNG(link))
        XCTAssertEqual(kind(link), 0o120000, "the link was replaced")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "real.png")
        let written = try Data(contentsOf: URL(fileURLWithPath: target))
        XCTAssertEqual(Array(written.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        var s = stat()
        XCTAssertEqual(stat(target, &s), 0)
        XCTAssertEqual(s.st_mode & 0o777, 0o600)
        XCTAssertEqual(listing(), ["link.png", "real.png"])
    }

    func testSymlinkChainToFIFOIsRefused() throws {
        let fifo = folder + "/pipe", middle = folder + "/middle", link = folder + "/out.png"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try FileManager.default.createSymbolicLink(atPath: middle, withDestinationPath: fifo)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "middle")
        assertOneLine(writePNG(link), path: link, mentions: "FIFO")
        XCTAssertEqual(kind(fifo), 0o010000)
        XCTAssertEqual(kind(link), 0o120000)
        XCTAssertEqual(listing(), ["middle", "out.png", "pipe"])
    }

    /// NAME_MAX is 255 bytes: a 250-byte name (ASCII, and 2-byte characters) must work.
    func testLongFileNamesAreWritten() throws {
        for name in [String(repeating: "a", count: 246) + ".png", String(repeating: "é", count: 123) + ".png"] {
            XCTAssertEqual(name.utf8.count, 250)
            let path = folder + "/" + name
            XCTAssertNil(writePNG(path), name)
            XCTAssertEqual(kind(path), 0o100000)
        }
        XCTAssertEqual(listing().count, 2)
    }

    func testMissingFolderIsOneLineError() throws {
        let path = folder + "/missing/out.png"
        assertOneLine(writePNG(path), path: path, mentions: "does not exist")
        XCTAssertEqual(listing(), [])
    }

    func testSafetensorsWriterRefusesFIFO() throws {
        let fifo = folder + "/w.safetensors"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        XCTAssertThrowsError(try SafetensorsWriter.write([("x", Tensor(shape: [4], zeroed: true))], to: fifo)) {
            XCTAssertTrue("\($0)".hasPrefix("cannot write \(fifo): "), "\($0)")
        }
        XCTAssertEqual(kind(fifo), 0o010000)
    }

    /// Failed writes leave the folder as it was: no temporary file, nothing replaced.
    func testNoTemporaryFileLeftAfterFailures() throws {
        XCTAssertEqual(mkfifo(folder + "/pipe", 0o644), 0)
        try FileManager.default.createDirectory(atPath: folder + "/dir.png", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.png", withDestinationPath: "pipe")
        let before = listing()
        for name in ["pipe", "dir.png", "link.png", "missing/x.png", String(repeating: "b", count: 252) + ".png"] {
            XCTAssertNotNil(writePNG(folder + "/" + name), name)
        }
        XCTAssertEqual(listing(), before)
    }
}
