import DatoCore
import Foundation
import XCTest

/// The safetensors reader and writer, and one clear error for each kind of corrupt file.
final class SafetensorsTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-st-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes a file from a raw header string and data bytes; `lengthOverride` lies about the header size.
    func raw(_ name: String, header: String, data: [UInt8], lengthOverride: UInt64? = nil) throws -> String {
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        withUnsafeBytes(of: (lengthOverride ?? UInt64(h.count)).littleEndian) { bytes += $0 }
        bytes += h + data
        let path = "\(dir!)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func expect(_ path: String, _ kind: SafetensorsError.Kind, tensor: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            guard let e = error as? SafetensorsError else { return XCTFail("unexpected error \(error)", file: file, line: line) }
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            XCTAssertEqual(e.file, path, file: file, line: line)
            XCTAssertTrue(e.description.contains(path), file: file, line: line)
            if let tensor {
                XCTAssertEqual(e.tensor, tensor, "\(e)", file: file, line: line)
                XCTAssertTrue(e.description.contains(tensor), file: file, line: line)
            }
        }
    }

    func testRoundTripF32AndF16() throws {
        let a = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0.25, -0, 65504])
        let b = Tensor(shape: [4], values: [0.1, 0.2, 0.3, 0.4])
        for type in [SafetensorsWriter.StorageType.f32, .f16] {
            let path = "\(dir!)/rt-\(type.rawValue).safetensors"
            try SafetensorsWriter.write([("a", a), ("b.weight", b)], metadata: ["format": "pt"], to: path, as: type)
            let f = try SafetensorsFile(path: path)
            XCTAssertEqual(f.metadata, ["format": "pt"])
            XCTAssertEqual(f.names, ["a", "b.weight"])
            XCTAssertEqual(f.entries["a"]?.dtype.rawValue, type.rawValue)
            XCTAssertEqual(try f.tensor("a").array, a.array)
            let got = try f.tensor("b.weight").array
            for (x, y) in zip(got, b.array) { XCTAssertEqual(x, type == .f32 ? y : Float(Float16(y))) }
            XCTAssertThrowsError(try f.tensor("nope")) { XCTAssertEqual(($0 as? SafetensorsError)?.kind, .missingTensor) }
        }
        // No temporary files are left beside the output.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [])
    }

    func testBF16() throws {
        let values: [Float] = [1, -2.5, 3.140625]
        var data: [UInt8] = []
        for v in values { withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { data += $0 } }
        let path = try raw("bf16.safetensors", header: #"{"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}"#, data: data)
        XCTAssertEqual(try SafetensorsFile(path: path).tensor("x").array, values)
    }

    func testTooShort() throws {
        let path = "\(dir!)/short.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        expect(path, .truncated)
    }

    func testMissingFile() {
        expect("\(dir!)/absent.safetensors", .unreadable)
    }

    func testHeaderLengthPastEnd() throws {
        expect(try raw("lying.safetensors", header: "{}", data: [], lengthOverride: 1000), .truncated)
    }

    func testHeaderTooLarge() throws {
        expect(try raw("huge.safetensors", header: "{}", data: [], lengthOverride: 200_000_000), .headerTooLarge)
    }

    func testHeaderNotJSON() throws {
        expect(try raw("notjson.safetensors", header: "{\"a\": [1, 2", data: []), .headerNotJSON)
    }

    func testUnknownDType() throws {
        expect(try raw("dtype.safetensors", header: #"{"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
               .unknownDType, tensor: "w")
    }

    func testNonFloatDTypeCannotBeRead() throws {
        let path = try raw("int.safetensors", header: #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        XCTAssertThrowsError(try SafetensorsFile(path: path).tensor("ids")) { XCTAssertEqual(($0 as? SafetensorsError)?.kind, .unsupportedDType) }
    }

    func testShapeDisagreesWithOffsets() throws {
        expect(try raw("size.safetensors", header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, data: [UInt8](repeating: 0, count: 16)),
               .sizeMismatch, tensor: "w")
    }

    func testTruncatedData() throws {
        expect(try raw("trunc.safetensors", header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 10)),
               .outOfBounds, tensor: "w")
    }

    func testOverlappingOffsets() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expect(try raw("overlap.safetensors", header: header, data: [UInt8](repeating: 0, count: 12)), .overlap, tensor: "b")
    }

    func testBadEntries() throws {
        expect(try raw("neg.safetensors", header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
               .badEntry, tensor: "w")
        expect(try raw("offs.safetensors", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]),
               .badEntry, tensor: "w")
        expect(try raw("float.safetensors", header: #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
               .badEntry, tensor: "w")
        expect(try raw("meta.safetensors", header: #"{"__metadata__":{"a":1}}"#, data: []), .badEntry, tensor: "__metadata__")
    }

    func testTruncatedRealFileIsRejected() throws {
        let path = "\(dir!)/full.safetensors"
        try SafetensorsWriter.write([("x", Tensor(shape: [64], zeroed: true))], to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = "\(dir!)/cut.safetensors"
        try data.prefix(data.count - 10).write(to: URL(fileURLWithPath: cut))
        expect(cut, .outOfBounds, tensor: "x")
    }
}
