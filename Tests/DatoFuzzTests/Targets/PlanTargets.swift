import DatoAccel
import Foundation

/// Acceleration plans as `dato generate --accel`, `dato compare` and `dato bench plans` take them.
enum PlanTargets {
    /// Samplers the plan is resolved for: (UNet calls, steps) of PNDM-50, PNDM-10, DDIM-4 and PNDM-1000.
    static let samplers: [(calls: Int, steps: Int)] = [(51, 50), (11, 10), (4, 4), (1001, 1000)]

    /// `PlanPresets.resolve(_:calls:steps:)` on the input as text: presets, deepcache, pruning terms, compact
    /// plans and JSON. A plan that resolves must also read back from the string `dato` writes for it
    /// (`description`, the PNG's `Accel:` entry) as the same string.
    static func plan(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        // A plan argument may name a plan file; inputs that could name one are not tried, so that no input
        // makes the target read a file such as /dev/zero.
        guard !text.contains("/") else { return }
        for (calls, steps) in samplers {
            guard let plan = try? PlanPresets.resolve(text, calls: calls, steps: steps) else { continue }
            let written = plan.description
            do {
                let again = try PlanPresets.resolve(written, calls: calls, steps: steps)
                guard again.description == written else {
                    FuzzTarget.violation("plan '\(written)' (from '\(text)') reads back as '\(again.description)'")
                }
            } catch {
                FuzzTarget.violation("plan '\(written)' (from '\(text)') does not read back: \(error)")
            }
        }
    }
}
