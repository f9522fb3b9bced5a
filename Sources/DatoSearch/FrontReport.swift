import Foundation

/// The search's outputs: the Pareto front as JSON and CSV (each row with its plan string for
/// `dato generate --accel`) and an SVG plot of quality loss against speed-up.
public enum FrontReport {
    /// Non-dominated feasible entries of `entries` (objectives [loss, cost]), sorted by cost.
    public static func front(_ entries: [JournalEntry]) -> [JournalEntry] {
        let feasible = entries.filter { e in
            e.evaluation.violation <= 0 && e.evaluation.objectives.count == 2 && e.evaluation.objectives.allSatisfy(\.isFinite)
        }
        guard let first = Dominance.nonDominatedFronts(feasible.map(\.evaluation.objectives)).first else { return [] }
        var seen = Set<[Double]>()
        return first.map { feasible[$0] }.sorted { $0.evaluation.objectives[1] < $1.evaluation.objectives[1] }
            .filter { seen.insert($0.evaluation.objectives).inserted }
    }

    public static func json(_ front: [JournalEntry], quality: String, cost: String) -> String {
        let rows = front.map { e -> [String: Any] in
            ["plan": e.plan, "quality_loss": e.qualityLoss, "cost": e.evaluation.objectives[1], "speedup": 1 / max(e.evaluation.objectives[1], 1e-12),
             "mac_fraction": e.macFraction, "loop_seconds": e.seconds, "genome": e.genome.map { Int($0) }]
        }
        let object: [String: Any] = ["quality": quality, "cost": cost, "front": rows]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func csv(_ front: [JournalEntry]) -> String {
        var out = "quality_loss,cost,speedup,mac_fraction,loop_seconds,plan\n"
        for e in front {
            let c = e.evaluation.objectives[1]
            out += String(format: "%.6g,%.6g,%.4f,%.6g,%.4f,", e.qualityLoss, c, 1 / max(c, 1e-12), e.macFraction, e.seconds)
            out += "\"\(e.plan.replacingOccurrences(of: "\"", with: "\"\""))\"\n"
        }
        return out
    }

    /// Quality loss (y) against speed-up 1 / cost (x): every evaluated point, the front joined by a line,
    /// the unaccelerated model at (1, 0) and labelled reference plans.
    public static func svg(all: [JournalEntry], front: [JournalEntry], references: [(String, JournalEntry)], quality: String) -> String {
        let w = 720.0, h = 480.0, left = 70.0, right = 20.0, top = 30.0, bottom = 50.0
        let points = (all + references.map(\.1)).map { (1 / max($0.evaluation.objectives[1], 1e-12), $0.qualityLoss) } + [(1, 0)]
        let xMax = max(1.5, (points.map(\.0).max() ?? 1) * 1.05), xMin = 0.9
        let yMin = min(0, points.map(\.1).min() ?? 0), yMax = max(1e-6, (points.map(\.1).max() ?? 1) * 1.1)
        func x(_ v: Double) -> Double { left + (v - xMin) / (xMax - xMin) * (w - left - right) }
        func y(_ v: Double) -> Double { h - bottom - (v - yMin) / (yMax - yMin) * (h - top - bottom) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        for i in 0...5 {
            let vx = xMin + Double(i) * (xMax - xMin) / 5, vy = yMin + Double(i) * (yMax - yMin) / 5
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.2fx</text>\n", x(vx), h - bottom + 18, vx)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", left - 6, y(vy) + 4, vy)
        }
        s += "<text x=\"\(w / 2)\" y=\"\(h - 10)\" text-anchor=\"middle\">speed-up (1 / cost)</text>\n"
        s += "<text x=\"16\" y=\"\(h / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(h / 2))\">quality loss (\(quality))</text>\n"
        for e in all {
            s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#9bb\" />\n", x(1 / max(e.evaluation.objectives[1], 1e-12)), y(e.qualityLoss))
        }
        let line = front.map { String(format: "%.1f,%.1f", x(1 / max($0.evaluation.objectives[1], 1e-12)), y($0.qualityLoss)) }.joined(separator: " ")
        s += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"#c33\" stroke-width=\"2\"/>\n"
        for e in front {
            s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#c33\" />\n", x(1 / max(e.evaluation.objectives[1], 1e-12)), y(e.qualityLoss))
        }
        s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"black\"/><text x=\"%.1f\" y=\"%.1f\">unaccelerated</text>\n",
                    x(1) - 4, y(0) - 4, x(1) + 8, y(0) - 6)
        for (name, e) in references {
            let px = x(1 / max(e.evaluation.objectives[1], 1e-12)), py = y(e.qualityLoss)
            s += String(format: "<path d=\"M %.1f %.1f l 6 6 l -6 6 l -6 -6 z\" fill=\"#36c\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#36c\">%@</text>\n",
                        px, py - 6, px + 8, py - 4, name.replacingOccurrences(of: "<", with: "&lt;") as NSString)
        }
        return s + "</svg>\n"
    }
}
