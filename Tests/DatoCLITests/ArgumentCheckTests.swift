@testable import dato
import XCTest

/// The CLI's value checks (`dato` runs them in each command's `validate()`, before loading a model): issue 20
/// found `--population 0`, `--seeds 1,,2` and `--max-quality-loss nan` accepted.
final class ArgumentCheckTests: XCTestCase {
    func assertRefused(_ body: @autoclosure () throws -> Any, flag: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? ArgumentError else { return XCTFail("\(type(of: error)): \(error)", file: file, line: line) }
            XCTAssertEqual(e.flag, flag, file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix("\(flag): "), e.description, file: file, line: line)
            XCTAssertTrue(e.message.contains(fragment), "expected '\(fragment)' in \(e.message)", file: file, line: line)
        }
    }

    func testSeedLists() throws {
        XCTAssertEqual(try ArgumentCheck.seeds("0"), [0])
        XCTAssertEqual(try ArgumentCheck.seeds(" 1, 2 ,18446744073709551615"), [1, 2, UInt64.max])
        assertRefused(try ArgumentCheck.seeds("1,,2"), flag: "--seeds", "empty item")
        assertRefused(try ArgumentCheck.seeds("1,2,"), flag: "--seeds", "empty item")
        assertRefused(try ArgumentCheck.seeds(""), flag: "--seeds", "the list is empty")
        assertRefused(try ArgumentCheck.seeds(" "), flag: "--seeds", "the list is empty")
        assertRefused(try ArgumentCheck.seeds("-1"), flag: "--seeds", "'-1' is not a non-negative integer")
        assertRefused(try ArgumentCheck.seeds("18446744073709551616"), flag: "--seeds", "is not a non-negative integer")
        assertRefused(try ArgumentCheck.seeds("1.5"), flag: "--seeds", "'1.5'")
        assertRefused(try ArgumentCheck.seeds("１"), flag: "--seeds", "is not")
        assertRefused(try ArgumentCheck.seeds(Array(repeating: "1", count: 10_001).joined(separator: ",")), flag: "--seeds", "at most 10000")
    }

    func testIntegerLists() throws {
        XCTAssertEqual(try ArgumentCheck.integers("0,1,12", "--depths", in: 0...12, distinct: true), [0, 1, 12])
        assertRefused(try ArgumentCheck.integers("0,1,13", "--depths", in: 0...12), flag: "--depths", "'13' is not an integer in 0...12")
        assertRefused(try ArgumentCheck.integers("0,,12", "--depths", in: 0...12), flag: "--depths", "empty item")
        assertRefused(try ArgumentCheck.integers("0,x", "--depths", in: 0...12), flag: "--depths", "'x'")
        assertRefused(try ArgumentCheck.integers("0,12,0", "--depths", in: 0...12, distinct: true), flag: "--depths", "lists 0 twice")
    }

    func testNumbers() throws {
        XCTAssertNoThrow(try ArgumentCheck.number(-30.0, "--max-quality-loss"))
        XCTAssertNoThrow(try ArgumentCheck.number(Float(7.5), "--cfg-scale", in: 0...Double.greatestFiniteMagnitude))
        for bad in [Double.nan, .infinity, -.infinity, -Double.nan] {
            assertRefused(try ArgumentCheck.number(bad, "--max-quality-loss"), flag: "--max-quality-loss", "is not a finite number")
        }
        assertRefused(try ArgumentCheck.number(Float.nan, "--cfg-scale", in: 0...1e9), flag: "--cfg-scale", "not a finite number")
        assertRefused(try ArgumentCheck.number(Float(-1), "--cfg-scale", in: 0...1e9), flag: "--cfg-scale", "outside")
        assertRefused(try ArgumentCheck.integer(0, "--population", in: 1...10_000), flag: "--population", "0 is outside 1...10000")
        assertRefused(try ArgumentCheck.integer(-5, "--repeats", in: 1...1000), flag: "--repeats", "outside")
        assertRefused(try ArgumentCheck.integer(UInt64.max, "--count", in: 1...10), flag: "--count", "outside")
        XCTAssertNoThrow(try ArgumentCheck.integer(10_000, "--population", in: 1...10_000))
    }

    func testThreadsAndSizes() throws {
        XCTAssertNoThrow(try ArgumentCheck.threads(nil))
        XCTAssertNoThrow(try ArgumentCheck.threads(8))
        assertRefused(try ArgumentCheck.threads(0), flag: "--threads", "outside 1...1024")
        assertRefused(try ArgumentCheck.threads(Int.max, "-t/--threads"), flag: "-t/--threads", "outside")
        XCTAssertNoThrow(try ArgumentCheck.imageSide(512, "-W/--width"))
        XCTAssertNoThrow(try ArgumentCheck.imageSide(nil, "-W/--width"))
        for bad in [0, -8, 12, 4104, Int.min] {
            assertRefused(try ArgumentCheck.imageSide(bad, "-W/--width"), flag: "-W/--width", "positive multiple of 8")
        }
    }
}
