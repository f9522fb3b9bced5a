@testable import DatoAccel
import DatoCore
import DatoModels
import XCTest
import DatoTestSupport

/// ToMe against tomesd 0.1.3 (fixtures from tools/fixtures/make_fixtures.py).
final class ToMeTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    func file(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: Self.fixtures.appendingPathComponent("DatoPipelineTests/Fixtures/tome/\(name)").path)
    }

    /// Top-left destinations on 8x8, 8x12 and 9x9 grids (leftover row/column), ratios 0 ... 0.9 (capped).
    func testMatchingMatchesTomesd() throws {
        let f = try file("matching.safetensors")
        for (h, w) in [(8, 8), (8, 12), (9, 9)] {
            let metric = try f.tensor("grid\(h)x\(w).metric"), y = try f.tensor("grid\(h)x\(w).y")
            for ratio in ["0.0", "0.5", "0.75", "0.9"] {
                let r = Int(Double(h * w) * Double(ratio)!)
                let expectedMerged = try f.tensor("grid\(h)x\(w).r\(ratio).merged")
                let expectedUnmerged = try f.tensor("grid\(h)x\(w).r\(ratio).unmerged")
                guard r > 0 else { XCTAssertEqual(expectedMerged.array, y.array); continue }
                let part = ToMe.partition(h: h, w: w, sx: 2, sy: 2) { 0 }
                let m = BipartiteMerge(metric: metric, partition: part, r: r, flags: (true, false, false),
                                   search: NearestSearch.Options())
                let merged = m.merge(y)
                XCTAssertEqual(merged.shape, expectedMerged.shape, "\(h)x\(w) r=\(ratio)")
                // The merged sequence's order is irrelevant to attention (tome.md section 6): compare the rows as sets.
                var worst: Float = 0
                let mine = Self.sortedRows(merged), theirs = Self.sortedRows(expectedMerged)
                for (a, b) in zip(mine, theirs) { for (x, y) in zip(a, b) { worst = max(worst, difference(x, y)) } }
                XCTAssertEqual(mine.count, theirs.count)
                XCTAssertLessThanOrEqual(worst, 1e-6, "\(h)x\(w) r=\(ratio) merged")
                let back = m.unmerge(merged)
                worst = 0
                for i in 0..<back.count { worst = max(worst, difference(back[i], expectedUnmerged[i])) }
                XCTAssertLessThanOrEqual(worst, 1e-6, "\(h)x\(w) r=\(ratio) unmerged")
            }
        }
    }

    /// Random destinations: the window choices tomesd drew from its seeded generator, fed to our partition.
    func testRandomDestinationsMatchTomesd() throws {
        let f = try file("matching.safetensors")
        for (h, w) in [(8, 8), (8, 12), (9, 9)] {
            let metric = try f.tensor("grid\(h)x\(w).metric"), y = try f.tensor("grid\(h)x\(w).y")
            var choices = try f.tensor("grid\(h)x\(w).rand.choice").array.map { Int($0) }.makeIterator()
            let part = ToMe.partition(h: h, w: w, sx: 2, sy: 2) { choices.next() ?? -1 }
            let m = BipartiteMerge(metric: metric, partition: part, r: h * w / 2, flags: (true, false, false),
                                   search: NearestSearch.Options())
            let merged = m.merge(y), expected = try f.tensor("grid\(h)x\(w).rand.merged")
            var worst: Float = 0
            for (a, b) in zip(Self.sortedRows(merged), Self.sortedRows(expected)) { for (u, v) in zip(a, b) { worst = max(worst, difference(u, v)) } }
            XCTAssertEqual(merged.shape, expected.shape)
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(h)x\(w) merged")
            let back = m.unmerge(merged), ref = try f.tensor("grid\(h)x\(w).rand.unmerged")
            worst = 0
            for i in 0..<back.count { worst = max(worst, difference(back[i], ref[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(h)x\(w) unmerged")
        }
    }

    static func sortedRows(_ t: Tensor) -> [[Float]] {
        let c = t.dim(-1)
        return (0..<(t.count / c)).map { r in (0..<c).map { t[r * c + $0] } }
            .sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The SD-layout tiny UNet with ToMe (ratio 0.5, top-left, attention only) against tomesd.apply_patch.
    func testUNetMatchesTomesd() throws {
        let dir = Self.fixtures.appendingPathComponent("DatoModelsTests/Fixtures/unet-sdlike").path
        let unet = try StableDiffusionModels.loadUNet(config: try UNetConfig.load("\(dir)/config.json"), folder: dir)
        var s = ToMe.Settings()
        s.ratio = 0.5
        s.useRand = false
        let tome = ToMe(settings: s)
        let io = try file("unet-sdlike-tome.safetensors")
        let out = try unet(io.tensor("sample"), timesteps: io.tensor("timesteps").array, context: io.tensor("encoder_hidden_states"),
                           hooks: UNetHooks(tokenReducer: tome))
        let ref = try io.tensor("out")
        var worst: Float = 0
        for i in 0..<ref.count { worst = max(worst, difference(out[i], ref[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-4 * ref.maxAbs, "max error \(worst)")
        let plain = try unet(io.tensor("sample"), timesteps: io.tensor("timesteps").array, context: io.tensor("encoder_hidden_states"))
        var diff: Float = 0
        for i in 0..<ref.count { diff = max(diff, difference(plain[i], ref[i])) }
        XCTAssertGreaterThan(diff, 1e-3 * ref.maxAbs, "ToMe must change the output")
    }
}
