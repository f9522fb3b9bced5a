import DatoCore
import DatoPipeline
import Foundation
import XCTest
import DatoTestSupport

/// Noise equals torch.randn from a seeded CPU generator (fixtures from tools/fixtures/make_fixtures.py).
final class TorchGeneratorTests: XCTestCase {
    let file = try! SafetensorsFile(path: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/randn.safetensors").path)

    func assertMatches(_ mine: [Float], _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let ref = try self.file.tensor(name).array
        XCTAssertEqual(mine.count, ref.count, name, file: file, line: line)
        var worst: Float = 0
        for (a, b) in zip(mine, ref) { worst = max(worst, difference(a, b)) }
        // PyTorch's vectorised log/sin/cos (SLEEF) differ from libm by an ulp or two.
        XCTAssertLessThanOrEqual(worst, 5e-6, "\(name): worst difference \(worst)", file: file, line: line)
    }

    func testSizesAndSeeds() throws {
        var checked = 0
        for name in self.file.names where name.hasPrefix("seed") {
            let parts = name.split(separator: ".")
            let seed = UInt64(parts[0].dropFirst(4))!, size = Int(parts[1].dropFirst(4))!
            var g = TorchGenerator(seed: seed)
            try assertMatches(g.randn(size), name)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 60)
    }

    func testOneGeneratorAcrossCalls() throws {
        var g = TorchGenerator(seed: 7)
        let names = self.file.names.filter { $0.hasPrefix("sequence.") }.sorted {
            Int($0.split(separator: ".")[1])! < Int($1.split(separator: ".")[1])!
        }
        XCTAssertEqual(names.count, 6)
        for name in names {
            try assertMatches(g.randn(Int(name.split(separator: ".")[2].dropFirst(4))!), name)
        }
    }
}
