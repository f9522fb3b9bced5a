import DatoImage
import Foundation

/// Quality loss (y) against speed-up (x) as a PNG: every evaluated point, the front as a line, the
/// unaccelerated model at (1, 0) and labelled reference plans (the raster twin of `FrontReport.svg`).
public enum FrontPlot {
    public static func png(all: [JournalEntry], front: [JournalEntry], references: [(String, JournalEntry)]) throws -> Data {
        let w = 720, h = 480, left = 70, right = 20, top = 30, bottom = 50
        func speed(_ e: JournalEntry) -> Double { 1 / max(e.evaluation.objectives[1], 1e-12) }
        let points = (all + references.map(\.1)).map { (speed($0), $0.qualityLoss) } + [(1, 0)]
        let xMin = 0.9, xMax = max(1.5, (points.map(\.0).max() ?? 1) * 1.05)
        let yMin = min(0, points.map(\.1).min() ?? 0), yMax = max(1e-6, (points.map(\.1).max() ?? 1) * 1.1)
        func px(_ v: Double) -> Int { left + Int((v - xMin) / (xMax - xMin) * Double(w - left - right)) }
        func py(_ v: Double) -> Int { h - bottom - Int((v - yMin) / (yMax - yMin) * Double(h - top - bottom)) }
        var pixels = [UInt8](repeating: 255, count: w * h * 3)
        func dot(_ x: Int, _ y: Int, _ r: Int, _ c: (UInt8, UInt8, UInt8)) {
            for dy in -r...r { for dx in -r...r where dx * dx + dy * dy <= r * r {
                let X = x + dx, Y = y + dy
                guard X >= 0, Y >= 0, X < w, Y < h else { continue }
                let o = (Y * w + X) * 3
                pixels[o] = c.0; pixels[o + 1] = c.1; pixels[o + 2] = c.2
            } }
        }
        func line(_ a: (Int, Int), _ b: (Int, Int), _ c: (UInt8, UInt8, UInt8), _ r: Int = 0) {
            let n = max(abs(b.0 - a.0), abs(b.1 - a.1), 1)
            for i in 0...n { dot(a.0 + (b.0 - a.0) * i / n, a.1 + (b.1 - a.1) * i / n, r, c) }
        }
        func text(_ s: String, _ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
            BitmapFont.draw(s, x: x, y: y, scale: 2, color: c, into: &pixels, width: w, height: h)
        }
        line((left, h - bottom), (w - right, h - bottom), (0, 0, 0))
        line((left, top), (left, h - bottom), (0, 0, 0))
        for i in 0...5 {
            let vx = xMin + Double(i) * (xMax - xMin) / 5, vy = yMin + Double(i) * (yMax - yMin) / 5
            let lx = String(format: "%.2fx", vx), ly = String(format: "%.3g", vy)
            text(lx, px(vx) - BitmapFont.width(lx, scale: 2) / 2, h - bottom + 8)
            text(ly, left - 6 - BitmapFont.width(ly, scale: 2), py(vy) - 5)
        }
        text("SPEED-UP", w / 2 - 32, h - 20)
        text("QUALITY LOSS", 4, 8)
        for e in all { dot(px(speed(e)), py(e.qualityLoss), 2, (150, 185, 185)) }
        let coords = front.map { (px(speed($0)), py($0.qualityLoss)) }
        for (a, b) in zip(coords, coords.dropFirst()) { line(a, b, (200, 50, 50), 1) }
        for c in coords { dot(c.0, c.1, 3, (200, 50, 50)) }
        dot(px(1), py(0), 4, (0, 0, 0))
        text("NONE", px(1) + 8, py(0) - 12)
        for (name, e) in references {
            dot(px(speed(e)), py(e.qualityLoss), 4, (50, 100, 200))
            text(name, px(speed(e)) + 8, py(e.qualityLoss) - 12, (50, 100, 200))
        }
        return try PNGWriter.encode(pixels: pixels, width: w, height: h)
    }
}
