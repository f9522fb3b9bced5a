import DatoCore
@testable import DatoModels
import DatoTestSupport
import Foundation
import XCTest

/// `.ckpt` files built to break the zip reader, the unpickler and the tensor views: each must give one
/// error naming the file, never a trap, a stack overflow, a read outside the storage or a huge allocation.
final class HostileCheckpointTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-hostile-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ bytes: [UInt8], _ name: String = "model.ckpt") throws -> String {
        let path = "\(dir!)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Opens the checkpoint and reads every tensor; the error must name the file and contain `words`.
    func expectRefused(_ bytes: [UInt8], _ words: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(bytes)
        XCTAssertThrowsError(try {
            let c = try PickleCheckpoint(path: path)
            for name in c.shapes.keys { _ = try c.tensor(name) }
        }(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is CheckpointError, text, file: file, line: line)
            XCTAssertTrue(text.contains(path), text, file: file, line: line)
            for w in words { XCTAssertTrue(text.contains(w), "'\(w)' not in: \(text)", file: file, line: line) }
        }
    }

    /// One tensor `w` with the given view of a 6-float storage.
    func checkpoint(offset: Int = 0, shape: [Int] = [2, 3], stride: [Int] = [3, 1], zip: (inout TestZip) -> Void = { _ in }) -> [UInt8] {
        let pickle = TestPickle.stateDict([("w", "0", 6, offset, shape, stride)])
        return testCheckpoint(pickle: pickle, storages: ["0": [1, 2, 3, 4, 5, 6]], zip: zip)
    }

    /// The builders make checkpoints the reader takes (plain and zip64), so the refusals below are about
    /// the one lie each test tells.
    func testWellFormedCheckpointsLoad() throws {
        for zip64 in [false, true] {
            let c = try PickleCheckpoint(path: try write(checkpoint { $0.zip64 = zip64 }))
            XCTAssertEqual(c.shapes, ["w": [2, 3]])
            XCTAssertEqual(try c.tensor("w").array, [1, 2, 3, 4, 5, 6])
        }
        let t = try PickleCheckpoint(path: try write(checkpoint(offset: 1, shape: [2, 2], stride: [1, 2])))
        XCTAssertEqual(try t.tensor("w").array, [2, 4, 3, 5])
    }

    /// A storage offset of -1 used to read the bytes before the storage and succeed.
    func testNegativeStorageOffsetIsRefused() throws {
        try expectRefused(checkpoint(offset: -1), "'w'", "offset -1")
    }

    /// A storage offset of -2^40 used to crash (SIGSEGV).
    func testHugeNegativeStorageOffsetIsRefused() throws {
        try expectRefused(checkpoint(offset: -(1 << 40)), "offset")
    }

    /// Negative sizes or strides, and views past the storage.
    func testViewsOutsideTheStorageAreRefused() throws {
        try expectRefused(checkpoint(shape: [2, 3], stride: [-3, 1]), "'w'", "strides")
        try expectRefused(checkpoint(shape: [2, -3], stride: [3, 1]), "'w'", "sizes")
        try expectRefused(checkpoint(offset: 1, shape: [2, 3], stride: [3, 1]), "'w'", "storage holds 6")
        try expectRefused(checkpoint(shape: [7], stride: [1]), "'w'", "storage holds 6")
    }

    /// Stride 0 with a huge shape used to allocate terabytes before any check.
    func testStrideZeroHugeViewIsRefused() throws {
        try expectRefused(checkpoint(shape: [1 << 20, 1 << 20], stride: [0, 0]), "'w'", "storage holds 6")
        try expectRefused(checkpoint(shape: [4, 4], stride: [0, 1]), "'w'", "16 in all")
    }

    /// Sizes and strides whose extent overflows `Int` used to trap.
    func testOverflowingViewIsRefused() throws {
        try expectRefused(checkpoint(shape: [1 << 62, 4], stride: [1 << 62, 1]), "'w'", "too large")
        try expectRefused(checkpoint(shape: [3, 1 << 62, 1 << 62, 0], stride: [1, 1, 1, 1]), "'w'", "too large")
    }

    /// zip64 counts, offsets and sizes of 2^63 or more used to become negative and trap.
    func testZip64ValuesBeyondIntAreRefused() throws {
        let huge: [UInt64] = [1 << 63, UInt64.max, (1 << 63) + 46]
        for v in huge {
            try expectRefused(checkpoint { $0.zip64 = true; $0.entryCount = v }, "entry count")
            try expectRefused(checkpoint { $0.zip64 = true; $0.directoryOffset = v }, "central directory offset")
            try expectRefused(checkpoint { $0.zip64 = true; $0.directorySize = v }, "central directory size")
            try expectRefused(checkpoint { $0.zip64 = true; $0.endRecordOffset = v }, "zip64 end record offset")
            try expectRefused(checkpoint { $0.zip64 = true; $0.firstMemberSize = v }, "data.pkl")
            try expectRefused(checkpoint { $0.zip64 = true; $0.firstMemberOffset = v }, "data.pkl")
        }
    }

    /// Values inside `Int` but outside the file, and counts the central directory cannot hold.
    func testZip64ValuesOutsideTheFileAreRefused() throws {
        try expectRefused(checkpoint { $0.zip64 = true; $0.entryCount = 1 << 40 }, "claims 1099511627776 entries")
        try expectRefused(checkpoint { $0.zip64 = true; $0.directoryOffset = 1 << 40 }, "central directory")
        try expectRefused(checkpoint { $0.zip64 = true; $0.endRecordOffset = 1 << 40 }, "outside")
        try expectRefused(checkpoint { $0.zip64 = true; $0.firstMemberSize = 1 << 40 }, "runs past the end")
        try expectRefused(checkpoint { $0.zip64 = true; $0.firstMemberOffset = 1 << 40 }, "outside")
        try expectRefused(checkpoint { $0.zip64 = true; $0.firstMemberOffset = 0xFFFF_FFF0 }, "outside")
    }

    /// The in-memory initializer the fuzz target uses, on truncations of a valid archive.
    func testZipFromMemoryNeverTraps() throws {
        let whole = checkpoint { $0.zip64 = true }
        XCTAssertNoThrow(try ZipArchive(data: Data(whole), path: "mem"))
        for cut in stride(from: 0, to: whole.count, by: 7) {
            if let z = try? ZipArchive(data: Data(whole[cut...]), path: "mem") {
                for e in z.entries.values { _ = try? z.range(of: e) }
            }
            _ = try? ZipArchive(data: Data(whole[..<cut]), path: "mem")
        }
    }

    /// Random byte changes to a state-dict pickle and its archive: errors are fine, traps are not.
    func testMutatedPicklesAndArchivesNeverTrap() throws {
        let pickle = TestPickle.stateDict([("a", "0", 6, 0, [2, 3], [3, 1]), ("b", "1", 4, 1, [3], [1]), ("c", "0", 6, 2, [2, 2], [0, 1])])
        let archive = testCheckpoint(pickle: pickle, storages: ["0": [1, 2, 3, 4, 5, 6], "1": [7, 8, 9, 10]]) { $0.zip64 = true }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33) % n
        }
        for round in 0..<3000 {
            var p = pickle, z = archive
            for _ in 0...next(4) {
                p[next(p.count)] = UInt8(next(256))
                z[next(z.count)] = [0xFF, 0x00, 0x80, UInt8(next(256))][next(4)]
            }
            var u = Unpickler(bytes: p, file: "mem.ckpt")
            _ = try? u.run()
            if let a = try? ZipArchive(data: Data(z), path: "mem.ckpt") {
                for e in a.entries.values { _ = try? a.range(of: e) }
            }
            // The whole reader on an archive holding the mutated pickle (every tenth: files are slower).
            guard round % 10 == 0 else { continue }
            let path = try write(testCheckpoint(pickle: p, storages: ["0": [1, 2, 3, 4, 5, 6], "1": [7, 8, 9, 10]]))
            if let c = try? PickleCheckpoint(path: path) {
                for name in c.shapes.keys { _ = try? c.tensor(name) }
            }
        }
    }

    /// 100,000 nested TUPLE1 opcodes used to overflow the stack when the value was freed.
    func testDeeplyNestedPickleIsRefused() throws {
        var p = TestPickle()
        p.op(0x4E)
        p.bytes += [UInt8](repeating: 0x85, count: 100_000)
        p.op(0x2E)
        var u = Unpickler(bytes: p.bytes, file: "mem.ckpt")
        XCTAssertThrowsError(try u.run()) { XCTAssertTrue("\($0)".contains("nest more than"), "\($0)") }
        try expectRefused(testCheckpoint(pickle: p.bytes, storages: [:]), "data.pkl", "nest more than")
        // Depth through lists and dicts, and through the memo, counts too.
        var q = TestPickle()
        q.op(0x4E, 0x71, 1)                                               // None, BINPUT 1
        for _ in 0..<1000 { q.op(0x5D, 0x68, 1, 0x61, 0x71, 1) }          // [memo 1] as the new memo 1
        q.op(0x2E)
        var v = Unpickler(bytes: q.bytes, file: "mem.ckpt")
        XCTAssertThrowsError(try v.run()) { XCTAssertTrue("\($0)".contains("nest more than"), "\($0)") }
    }

    /// A list memoized after every append would be copied whole each time (quadratic work).
    func testCopyingSharedContainersIsBounded() throws {
        var p = TestPickle()
        p.op(0x5D)
        for _ in 0..<30_000 { p.op(0x4E, 0x61, 0x71, 0) }                 // None, APPEND, BINPUT 0
        p.op(0x2E)
        var u = Unpickler(bytes: p.bytes, file: "mem.ckpt")
        XCTAssertThrowsError(try u.run()) { XCTAssertTrue("\($0)".contains("copying"), "\($0)") }
        // A long list built the usual way is fine.
        var q = TestPickle()
        q.op(0x5D, 0x71, 0)
        for _ in 0..<30_000 { q.op(0x4E, 0x61) }
        q.op(0x2E)
        var v = Unpickler(bytes: q.bytes, file: "mem.ckpt")
        guard case .list(let l) = try v.run() else { return XCTFail("not a list") }
        XCTAssertEqual(l.count, 30_000)
    }

    /// Integers and lengths that do not fit, and opcodes on the wrong values.
    func testMalformedOpcodesAreRefused() throws {
        let cases: [([UInt8], String)] = [
            ([0x8A, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x2E], "LONG1"),
            ([0x8A, 255] + [UInt8](repeating: 0xFF, count: 255) + [0x2E], "LONG1"),
            ([0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x41], "truncated"),
            ([0x42, 0xFF, 0xFF, 0xFF, 0xFF], "truncated"),
            ([0x63] + [UInt8](repeating: 0x41, count: 5000), "GLOBAL"),
            ([0x71, 0], "empty stack"),
            ([0x61], "underflow"),
            ([0x4E, 0x4E, 0x61], "APPEND on a non-list"),
            ([0x7D, 0x28, 0x4E, 0x75, 0x2E], "odd number"),
            ([0x63] + Array("torch._utils\n_rebuild_parameter\n".utf8) + [0x4E, 0x85, 0x52, 0x2E], "parameter"),
        ]
        for (bytes, word) in cases {
            var u = Unpickler(bytes: [0x80, 2] + bytes, file: "mem.ckpt")
            XCTAssertThrowsError(try u.run(), word) { XCTAssertTrue("\($0)".contains(word), "'\(word)' not in \($0)") }
        }
    }

    /// A FIFO given as a checkpoint used to block forever.
    func testFIFOIsRefusedWithoutBlocking() throws {
        let path = "\(dir!)/model.ckpt"
        let (result, blocked) = try withFIFO(at: path) { try PickleCheckpoint(path: path) }
        XCTAssertFalse(blocked, "opening the FIFO waited for a writer")
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertTrue("\(error)".contains("\(path): not a regular file (it is a FIFO)"), "\(error)")
        }
        XCTAssertThrowsError(try PickleCheckpoint(path: dir)) { XCTAssertTrue("\($0)".contains("a directory"), "\($0)") }
    }

    /// Config files are read only when regular and not larger than 16 MiB.
    func testSpecialAndOversizedConfigsAreRefused() throws {
        let fifo = "\(dir!)/config.json"
        let (result, blocked) = try withFIFO(at: fifo) { try UNetConfig.load(fifo) }
        XCTAssertFalse(blocked, "opening the FIFO waited for a writer")
        XCTAssertThrowsError(try result.get()) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        let big = "\(dir!)/big.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        try handle.truncate(atOffset: UInt64(16 << 20) + 1)   // sparse: no disk used
        try handle.close()
        XCTAssertThrowsError(try VAEConfig.load(big)) { error in
            XCTAssertTrue("\(error)".contains(big) && "\(error)".contains("limit"), "\(error)")
        }
    }
}
