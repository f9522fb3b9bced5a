@testable import DatoCore
import DatoTestSupport
import Foundation
import XCTest

/// Safetensors files (and other inputs) built to break the reader: lengths and shapes near 2^63, and
/// special files given where a weights file belongs. Each must give one error naming the file.
final class HostileSafetensorsTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-hostile-st-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A file of an 8-byte header length (as given), a header and data.
    func file(_ name: String, length: UInt64? = nil, header: String, data: [UInt8] = []) throws -> String {
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { bytes += $0 }
        bytes += h + data
        let path = "\(dir!)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func expect(_ path: String, _ kinds: Set<SafetensorsError.Kind>, mentioning words: [String] = [],
                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            guard let e = error as? SafetensorsError else { return XCTFail("unexpected error \(error)", file: file, line: line) }
            XCTAssertTrue(kinds.contains(e.kind), "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(path), "\(e)", file: file, line: line)
            for w in words { XCTAssertTrue(e.description.contains(w), "'\(w)' not in: \(e)", file: file, line: line) }
        }
    }

    /// A header length of 2^63 or more used to trap converting to `Int`.
    func testHeaderLengthOf2Pow63OrMoreIsAnError() throws {
        for length in [UInt64(1) << 63, UInt64.max, (UInt64(1) << 63) + 7] {
            expect(try file("len-\(length).safetensors", length: length, header: "{}"), [.headerTooLarge], mentioning: ["\(length)"])
        }
    }

    /// `[2^62]` F16 needs 2^63 bytes: refused, and building the message must not overflow either.
    func testShapeNeeding2Pow63BytesIsAnError() throws {
        let shapes = ["[4611686018427387904]", "[4611686018427387904, 1]", "[2, 2305843009213693952]",
                      "[9223372036854775807]", "[3037000500, 3037000500]"]
        for (i, shape) in shapes.enumerated() {
            let header = #"{"w":{"dtype":"F16","shape":\#(shape),"data_offsets":[0,2]}}"#
            expect(try file("shape\(i).safetensors", header: header, data: [0, 0]), [.badEntry, .sizeMismatch], mentioning: ["'w'"])
        }
    }

    /// A zero-element shape whose other dimensions multiply past `Int.max` would overflow later size
    /// computations (element counts taken in another order, strides).
    func testZeroElementShapeWithOverflowingDimensionsIsAnError() throws {
        let header = #"{"w":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#
        expect(try file("zero.safetensors", header: header), [.badEntry], mentioning: ["'w'", "too large"])
    }

    /// Offsets and dimensions beyond `Int` (JSON integers up to 2^64-1) are refused, not wrapped.
    func testOffsetsBeyondIntAreRefused() throws {
        for offsets in ["[0,18446744073709551615]", "[18446744073709551614,18446744073709551615]", "[0,9223372036854775807]"] {
            let header = #"{"w":{"dtype":"U8","shape":[2],"data_offsets":\#(offsets)}}"#
            expect(try file("offs.safetensors", header: header, data: [0, 0]), [.badEntry, .sizeMismatch, .outOfBounds])
        }
        let header = #"{"w":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,2]}}"#
        expect(try file("dim.safetensors", header: header, data: [0, 0]), [.badEntry])
    }

    /// Deeply nested JSON in the header is an error, not a stack overflow.
    func testDeeplyNestedHeaderIsAnError() throws {
        let depth = 200_000
        let header = #"{"w":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        expect(try file("deep.safetensors", header: header), [.headerNotJSON, .badEntry])
    }

    /// A FIFO given as a weights file used to block forever in `open()`.
    func testFIFOIsRefusedWithoutBlocking() throws {
        let path = "\(dir!)/weights.safetensors"
        let (result, blocked) = try withFIFO(at: path) { try SafetensorsFile(path: path) }
        XCTAssertFalse(blocked, "opening the FIFO waited for a writer")
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertEqual((error as? SafetensorsError)?.kind, .unreadable, "\(error)")
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("not a regular file (it is a FIFO)"), "\(error)")
        }
    }

    /// Directories and device nodes are refused by name too.
    func testDirectoryAndDeviceAreRefused() throws {
        expect(dir, [.unreadable], mentioning: ["a directory"])
        expect("/dev/null", [.unreadable], mentioning: ["a character device"])
    }

    /// The shared reader: special files refused, a size limit enforced, regular files read whole.
    func testRegularFileRead() throws {
        let path = "\(dir!)/config.json"
        try Data("{\"a\": 1}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try RegularFile.read(path, limit: 8), Data("{\"a\": 1}".utf8))
        XCTAssertThrowsError(try RegularFile.read(path, limit: 7)) { error in
            XCTAssertTrue("\(error)".contains("7-byte limit"), "\(error)")
            XCTAssertEqual((error as? RegularFileError)?.path, path)
        }
        XCTAssertThrowsError(try RegularFile.read("/dev/zero", limit: 100)) { XCTAssertTrue("\($0)".contains("character device"), "\($0)") }
        XCTAssertThrowsError(try RegularFile.read("\(dir!)/absent", limit: 100)) { XCTAssertTrue("\($0)".contains("cannot open"), "\($0)") }
        XCTAssertEqual(try RegularFile.map(path), Data("{\"a\": 1}".utf8))
        let fifo = "\(dir!)/fifo.json"
        let (result, blocked) = try withFIFO(at: fifo) { try RegularFile.read(fifo, limit: 100) }
        XCTAssertFalse(blocked)
        XCTAssertThrowsError(try result.get()) { XCTAssertTrue("\($0)".contains("FIFO"), "\($0)") }
    }

    /// A header that is valid but names a non-float dtype is refused before its fp32 copy is allocated.
    func testIntegerTensorIsRefusedWhenRead() throws {
        let header = #"{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#
        let f = try SafetensorsFile(path: try file("u8.safetensors", header: header, data: [1, 2, 3, 4]))
        XCTAssertThrowsError(try f.tensor("w")) { XCTAssertEqual(($0 as? SafetensorsError)?.kind, .unsupportedDType) }
    }

    /// The header parser the fuzz target calls, on a few hostile headers in memory.
    func testParseHeaderInMemory() {
        for header in ["", "[]", "{\"w\":1}", #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#,
                       #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, #"{"__metadata__":{"a":1}}"#] {
            XCTAssertThrowsError(try SafetensorsFile.parseHeader(Data(header.utf8), dataSize: 4, path: "mem"), header)
        }
    }
}
