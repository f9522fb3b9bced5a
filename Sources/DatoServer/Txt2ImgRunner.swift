import DatoAccel
import DatoImage
import DatoPipeline
import Foundation

/// What a txt2img job made: AUTOMATIC1111's response `{images, parameters, info}`.
struct Txt2ImgResult: Sendable {
    var images: [String]
    var parameters: [String: JSONValue]
    var info: [String: JSONValue]

    var json: JSONValue {
        .object(["images": .array(images.map { .string($0) }), "parameters": .object(parameters),
                 "info": .string(JSONValue.object(info).jsonText)])
    }
}

/// Runs one checked txt2img request on the loaded model: its images one after another (seed, seed+1, ...),
/// stopping at the next UNet call when the job is interrupted and dropping an image that is skipped.
struct Txt2ImgRunner {
    let model: ServedModel
    let settings: ServerSettings

    func run(_ r: Txt2ImgRequest, progress: JobProgress) throws -> Txt2ImgResult {
        let pipe = model.pipeline
        let baseSeed = r.seed >= 0 ? UInt64(r.seed) : UInt64.random(in: 0...UInt64(UInt32.max))
        var images: [String] = [], infotexts: [String] = [], seeds: [UInt64] = []
        var last: GeneratedImage?
        var text = 0.0, loop = 0.0, decode = 0.0, calls = 0
        for i in 0..<r.imageCount {
            if progress.interrupted { break }
            progress.beginImage(i)
            let request = generationRequest(r, seed: baseSeed &+ UInt64(i))
            let image: GeneratedImage
            do {
                image = try pipe.generate(request) { p in progress.advance(done: p.call + 1, total: p.callCount) }
            } catch PipelineError.cancelled {
                if progress.interrupted { break }
                continue   // skipped: on with the next image
            } catch let PipelineError.invalidRequest(field, message) {
                let where_ = field == "plan" ? r.planSource.split(separator: ".").map(String.init) : [field]
                throw APIError.invalid(where_, message)
            }
            let infotext = infotext(r, request: request, image: image)
            let png = try PNGWriter.encode(pixels: image.pixels, width: image.width, height: image.height,
                                           text: [("parameters", infotext)])
            if r.sendImages { images.append(png.base64EncodedString()) }
            if r.saveImages, let dir = settings.outputDirectory { try ImageSaver.save(png, seed: request.seed, in: dir) }
            infotexts.append(infotext)
            seeds.append(request.seed)
            text += image.textSeconds; loop += image.loopSeconds; decode += image.decodeSeconds
            calls += image.callSeconds.count
            last = image
        }
        var info = baseInfo(r, seed: baseSeed, seeds: seeds, infotexts: infotexts)
        info["dato_plan"] = last.map { .string(Self.isAccelerated($0.plan) ? $0.plan.description : "none") } ?? JSONValue(r.plan)
        info["dato_plan_summary"] = last.map { .string($0.plan.summary) } ?? .null
        info["dato_mac_ratio"] = last.map { .double($0.macs / max($0.fullMACs, 1)) } ?? .null
        info["dato_timings"] = ["text_seconds": .double(text), "denoising_seconds": .double(loop),
                                "decode_seconds": .double(decode), "unet_calls": JSONValue(calls),
                                "seconds_per_call": .double(calls > 0 ? loop / Double(calls) : 0),
                                "total_seconds": .double(Date().timeIntervalSince(progress.started))]
        info["dato_interrupted"] = .bool(progress.interrupted)
        return Txt2ImgResult(images: images, parameters: r.parameters, info: info)
    }

    private func generationRequest(_ r: Txt2ImgRequest, seed: UInt64) -> GenerationRequest {
        var request = GenerationRequest(prompt: r.prompt)
        request.negativePrompt = r.negativePrompt
        request.steps = r.steps
        request.guidanceScale = r.cfgScale
        request.seed = seed
        request.scheduler = r.kind
        request.eta = r.kind == .ddim ? (r.eta ?? 0) : 0
        request.width = r.width
        request.height = r.height
        request.plan = r.plan
        return request
    }

    static func isAccelerated(_ plan: AccelerationPlan) -> Bool {
        plan.depths.contains { $0 != AccelerationPlan.fullDepth } || plan.pruning.name != .none
    }

    /// The `parameters` text of one image (as `dato generate` writes it), with the plan and precision.
    private func infotext(_ r: Txt2ImgRequest, request: GenerationRequest, image: GeneratedImage) -> String {
        var extra: [(String, String)] = []
        if Self.isAccelerated(image.plan) { extra.append(("Accel", image.plan.description)) }
        if let precision = model.precision { extra.append(("Precision", precision)) }
        return GenerationParameters.text(request: request, sampler: r.kind, modelName: model.name, modelHash: model.hash, extra: extra)
    }

    /// AUTOMATIC1111's `Processed.js()` fields.
    private func baseInfo(_ r: Txt2ImgRequest, seed: UInt64, seeds: [UInt64], infotexts: [String]) -> [String: JSONValue] {
        let names = SamplerCatalog.names(r.kind)
        let count = max(seeds.count, 1)
        return [
            "prompt": .string(r.prompt), "all_prompts": .array(Array(repeating: .string(r.prompt), count: count)),
            "negative_prompt": .string(r.negativePrompt),
            "all_negative_prompts": .array(Array(repeating: .string(r.negativePrompt), count: count)),
            "seed": .int(Int64(clamping: seed)), "all_seeds": .array(seeds.map { .int(Int64(clamping: $0)) }),
            "subseed": -1, "all_subseeds": .array(seeds.map { _ in -1 }), "subseed_strength": 0,
            "width": JSONValue(r.width), "height": JSONValue(r.height), "sampler_name": .string(names.sampler),
            "scheduler": .string(names.scheduler), "cfg_scale": JSONValue(r.cfgScale), "steps": JSONValue(r.steps),
            "batch_size": JSONValue(r.batchSize), "restore_faces": false, "face_restoration_model": .null,
            "sd_model_name": .string(model.name), "sd_model_hash": JSONValue(model.hash), "sd_vae_name": .null,
            "sd_vae_hash": .null, "seed_resize_from_w": -1, "seed_resize_from_h": -1, "denoising_strength": .null,
            "extra_generation_params": names.scheduler == "Automatic" ? [:] : ["Schedule type": .string(names.scheduler)],
            "index_of_first_image": 0, "infotexts": .array(infotexts.map { .string($0) }), "styles": [],
            "job_timestamp": .string(JobProgress.timestampNow()), "clip_skip": 1,
            "is_using_inpainting_conditioning": false, "version": .string("dato"),
        ]
    }
}

/// Writes `save_images` PNGs as AUTOMATIC1111 names them: `NNNNN-seed.png`, numbered after the folder's highest.
enum ImageSaver {
    static func save(_ png: Data, seed: UInt64, in directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let next = (names.compactMap { Int($0.prefix { $0.isNumber }.prefix(9)) }.max() ?? -1) + 1
        let path = (directory as NSString).appendingPathComponent(String(format: "%05d-%llu.png", next, seed))
        guard FileManager.default.createFile(atPath: path, contents: png) else {
            throw APIError(status: .internalServerError, detail: "cannot write \(path)")
        }
    }
}
