import ArgumentParser
import DatoCore
import DatoDemo
import DatoEvaluation
import DatoPipeline
import Foundation

/// `dato bench precision`: the same prompts and seeds generated with the UNet and VAE in fp32 and in bf16; image
/// fidelity (PSNR, SSIM), prompt alignment where the demo scorer applies, and time per image.
struct BenchPrecision: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "precision",
        abstract: "bf16 against fp32 on a model: PSNR / SSIM of the images, alignment, time per image."
    )

    @Option(name: [.short, .customLong("model")], help: "A diffusers folder or single-file checkpoint (default: the demo model).") var model: String?
    @Option(help: "Prompt file, one per line (default: the demo model's held-out prompts when run from the repository).") var prompts: String?
    @Option(help: "How many prompts to use.") var count = 20
    @Option(help: "Denoising steps.") var steps = 50
    @Option(name: .customLong("cfg-scale"), parsing: .unconditional, help: "Guidance scale.") var cfgScale: Float = 7.5
    @Option(name: [.short, .customLong("seed")], parsing: .unconditional, help: "Seed of every image.") var seed: UInt64 = 1234
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var convolution: ConvolutionOptions

    func validate() throws {
        try checkArguments {
            try ArgumentCheck.integer(count, "--count", in: 1...10_000)
            try ArgumentCheck.integer(steps, "--steps", in: 1...1000)
            try ArgumentCheck.number(cfgScale, "--cfg-scale", in: 0...Double.greatestFiniteMagnitude)
        }
    }

    func run() throws {
        threadOptions.apply()
        let path = try model ?? DemoModel.folder()
        let list = try Search.readPrompts(prompts ?? "tools/demo-model/heldout-prompts.txt").prefix(count)
        let scorer = try? AlignmentScorer.bundled()
        var psnr: [Double] = [], ssim: [Double] = [], align: [Precision: [Double]] = [:], seconds: [Precision: Double] = [:]
        var images: [Precision: [GeneratedImage]] = [:]
        for precision in Precision.allCases {
            var settings = convolution.settings(precision)
            settings.vaePrecision = precision   // as `dato generate --precision` runs it
            let pipe = try StableDiffusionPipeline.load(path: path, compute: settings)
            let start = Date()
            for prompt in list {
                var request = GenerationRequest(prompt: prompt)
                request.steps = steps; request.guidanceScale = cfgScale; request.seed = seed
                request.width = pipe.nativeSize; request.height = pipe.nativeSize
                let image = try pipe.generate(request)
                images[precision, default: []].append(image)
                if let scorer, image.width == 64, image.height == 64,
                   let a = try scorer.alignment(prompt: prompt, pixels: image.pixels, width: 64, height: 64) {
                    align[precision, default: []].append(a)
                }
            }
            seconds[precision] = Date().timeIntervalSince(start) / Double(list.count)
        }
        for (a, b) in zip(images[.fp32] ?? [], images[.bf16] ?? []) {
            psnr.append(ImageMetrics.psnr(a.pixels, b.pixels))
            ssim.append(ImageMetrics.ssim(a.pixels, b.pixels, width: a.width, height: a.height))
        }
        func median(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.sorted()[v.count / 2] }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        print("\(list.count) prompts, seed \(seed), \(steps) steps, CFG \(cfgScale), \(Parallel.threadCount) threads: \(path)")
        print(String(format: "bf16 vs fp32 images: PSNR median %.2f dB (min %.2f; inf = identical), SSIM mean %.4f",
                     median(psnr), psnr.min() ?? .nan, mean(ssim)))
        for p in Precision.allCases {
            let a = align[p].map { String(format: ", alignment %.3f", mean($0)) } ?? ""
            print(String(format: "%@: %.3f s per image%@", p.rawValue, seconds[p] ?? .nan, a))
        }
    }
}
