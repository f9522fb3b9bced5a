import ArgumentParser
import DatoAccel
import DatoCore
import DatoDemo
import DatoEvaluation
import DatoImage
import DatoPipeline
import Foundation

/// `dato compare`: speed and fidelity of acceleration plans against the unaccelerated run.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare acceleration plans with the unaccelerated run: time, speed-up, MACs, PSNR, SSIM.",
        discussion: "Every prompt/seed pair is generated without a plan and with each --accel plan; fidelity is measured against the unaccelerated image of the same prompt and seed."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var promptOptions: PromptOptions

    @Option(parsing: .unconditional, help: "Comma-separated seeds.")
    var seeds = "0"

    @Option(name: .customLong("accel"), help: "A plan to compare (repeat for several); same forms as dato generate --accel.")
    var plans: [String] = []

    @Option(help: "Denoising steps.") var steps = 50
    @Option(name: .customLong("cfg-scale"), parsing: .unconditional, help: "Guidance scale.") var cfgScale: Float = 7.5
    @Option(help: "Scheduler (default: the model's).") var scheduler: SchedulerKind?
    @Option(name: [.customShort("W"), .customLong("width")], help: "Width (default: native).") var width: Int?
    @Option(name: [.customShort("H"), .customLong("height")], help: "Height (default: native).") var height: Int?
    @Option(help: "Timed repeats per run (the median is reported).") var repeats = 1
    @Option(name: [.short, .customLong("output")], help: "Side-by-side grid PNG.") var output = "compare.png"
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard !plans.isEmpty else { throw ValidationError("give at least one --accel plan to compare") }
        try Generate.validateSampling(steps: steps, cfgScale: cfgScale)
        try checkArguments {
            _ = try ArgumentCheck.seeds(seeds)
            try ArgumentCheck.integer(repeats, "--repeats", in: 1...1000)
            try ArgumentCheck.imageSide(width, "-W/--width")
            try ArgumentCheck.imageSide(height, "-H/--height")
            for plan in plans { try PlanPresets.check(plan, steps: steps) }   // bad plans fail before the model loads
        }
    }

    var parsedSeeds: [UInt64]? { try? ArgumentCheck.seeds(seeds) }

    struct Row { var seconds: [Double] = []; var macs = 0.0, fullMACs = 0.0; var psnr: [Double] = [], ssim: [Double] = [], latent: [Double] = [], alignment: [Double] = [] }

    func run() throws {
        threadOptions.apply()
        let prompts = try promptOptions.prompts()
        try OutputFile.check(output)   // before minutes of compute
        let pipe = try modelOptions.load()
        let native = pipe.nativeSize
        let labels = ["none"] + plans
        var rows = [Row](repeating: Row(), count: labels.count)
        let cases = prompts.flatMap { p in (parsedSeeds ?? [0]).map { (p, $0) } }
        var grid: ImageGrid?
        let scorer = try? AlignmentScorer.bundled()   // prompt alignment for 64x64 demo-style images
        for (ci, (text, seed)) in cases.enumerated() {
            var baseline: GeneratedImage?
            for (pi, plan) in labels.enumerated() {
                var request = GenerationRequest(prompt: text)
                request.negativePrompt = promptOptions.negativePrompt
                request.steps = steps
                request.guidanceScale = cfgScale
                request.seed = seed
                request.scheduler = scheduler
                request.width = width ?? native
                request.height = height ?? native
                request.plan = pi == 0 ? nil : plan
                var image: GeneratedImage?
                for _ in 0..<repeats {
                    let img = try pipe.generate(request)
                    rows[pi].seconds.append(img.loopSeconds)
                    image = img
                }
                guard let image else { continue }
                rows[pi].macs += image.macs
                rows[pi].fullMACs += image.fullMACs
                if pi == 0 { baseline = image }
                if let base = baseline {
                    rows[pi].psnr.append(ImageMetrics.psnr(image.pixels, base.pixels))
                    rows[pi].ssim.append(ImageMetrics.ssim(image.pixels, base.pixels, width: image.width, height: image.height))
                    rows[pi].latent.append(ImageMetrics.relativeError(image.latents, base.latents))
                }
                if let scorer, image.width == 64, image.height == 64,
                   let a = try scorer.alignment(prompt: text, pixels: image.pixels, width: 64, height: 64) {
                    rows[pi].alignment.append(a)
                }
                if grid == nil { grid = ImageGrid(rows: cases.count, columns: labels.count, cellWidth: image.width, cellHeight: image.height) }
                grid?.place(image.pixels, row: ci, column: pi, label: pi == 0 ? "full seed \(seed)" : plan)
                FileHandle.standardError.write("  \(text.prefix(40)) seed \(seed), \(labels[pi]): \(String(format: "%.2f", image.loopSeconds)) s\n")
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
        let baseTime = median(rows[0].seconds)
        print("\(cases.count) prompt/seed pair(s), \(steps) steps, \(repeats) repeat(s); times are the denoising loop (median)")
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count) }
        let aligned = rows.allSatisfy { !$0.alignment.isEmpty }
        print(pad("plan", 40) + "    time s  speedup  MAC ratio  PSNR dB     SSIM  latent err" + (aligned ? "  alignment" : ""))
        for (i, r) in rows.enumerated() {
            let t = median(r.seconds)
            print(pad(labels[i], 40) + String(format: " %9.3f %8.2f %10.3f %8.2f %8.4f %11.2e", t, baseTime / max(t, 1e-9),
                                              r.macs / max(r.fullMACs, 1), min(mean(r.psnr), 999), mean(r.ssim), mean(r.latent))
                  + (aligned ? String(format: " %10.3f", mean(r.alignment)) : ""))
        }
        if let grid {
            try PNGWriter.write(pixels: grid.pixels, width: grid.width, height: grid.height, to: output)
            print("wrote \(output)")
        }
    }
}
