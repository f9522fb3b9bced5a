import DatoAccel
import DatoPipeline
import Foundation

/// A checked `POST /sdapi/v1/txt2img` request: AUTOMATIC1111's field names and defaults, the sampler mapped to
/// the engine's scheduler, and the acceleration plan picked from the request's fields.
public struct Txt2ImgRequest: Sendable {
    public var prompt = ""
    public var negativePrompt = ""
    /// -1 (or any negative value): a random seed.
    public var seed: Int64 = -1
    public var steps = 50
    public var cfgScale: Float = 7
    public var width = 512
    public var height = 512
    public var samplerName = SamplerCatalog.defaultSampler
    public var scheduler: String? = nil
    public var batchSize = 1
    public var nIter = 1
    public var eta: Float? = nil
    public var sendImages = true
    public var saveImages = false
    /// The engine's scheduler for `samplerName` and `scheduler`.
    public var kind: SchedulerKind = .euler
    /// The plan to run (nil: the full model) and the field it came from.
    public var plan: String? = nil
    public var planSource = "accel"
    /// The model `override_settings.sd_model_checkpoint` names (nil: the loaded one).
    public var checkpoint: String? = nil
    /// The request as AUTOMATIC1111 echoes it in `parameters`: every field with its value or default.
    public var parameters: [String: JSONValue] = [:]

    /// Images the request makes.
    public var imageCount: Int { batchSize * nIter }

    /// Reads and checks a request body. Every bad field is listed in one 422 answer.
    public static func parse(_ body: Data, catalog: ModelCatalog, settings: ServerSettings) throws -> Txt2ImgRequest {
        let object = try JSONValue.bodyObject(body)
        var r = Txt2ImgRequest()
        var reader = FieldReader(object)
        r.read(&reader, limits: settings.limits)
        let overrides = reader.dictionary("override_settings") ?? [:]
        let accel = reader.string("accel")
        var overrideReader = FieldReader(overrides, path: ["override_settings"])
        r.readOverrides(&overrideReader, catalog: catalog, accel: accel, defaultAccel: settings.defaultAccel)
        var issues = reader.issues + overrideReader.issues
        do {
            r.kind = try SamplerCatalog.kind(sampler: r.samplerName, scheduler: r.scheduler)
        } catch let error as APIError {
            issues += error.issues
        }
        if r.saveImages && settings.outputDirectory == nil {
            issues.append(.body(["save_images"], "this server saves no images (start it with --output-dir)", type: "value_error"))
        }
        if issues.isEmpty { issues += r.checkPlan() }
        guard issues.isEmpty else { throw APIError(issues: issues) }
        r.parameters = r.echo(overrides: overrides)
        return r
    }

    private mutating func read(_ f: inout FieldReader, limits: RequestLimits) {
        prompt = f.string("prompt") ?? prompt
        negativePrompt = f.string("negative_prompt") ?? negativePrompt
        seed = f.int("seed") ?? seed
        steps = f.int("steps", in: 1...Int64(limits.steps)).map { Int($0) } ?? steps
        let g = GenerationRequest.guidanceScaleRange
        cfgScale = f.float("cfg_scale", in: Double(g.lowerBound)...Double(g.upperBound)).map { Float($0) } ?? cfgScale
        width = f.int("width", in: 8...Int64(limits.side)).map { Int($0) } ?? width
        height = f.int("height", in: 8...Int64(limits.side)).map { Int($0) } ?? height
        for (key, v) in [("width", width), ("height", height)] where v % 8 != 0 {
            f.fail(key, "\(v) is not a multiple of 8", type: "value_error.number.not_multiple", context: ["multiple_of": 8])
        }
        samplerName = f.string("sampler_name").flatMap { $0.isEmpty ? nil : $0 }
            ?? f.string("sampler_index").flatMap { $0.isEmpty ? nil : $0 } ?? samplerName
        scheduler = f.string("scheduler")
        batchSize = f.int("batch_size", in: 1...Int64(limits.batchSize)).map { Int($0) } ?? batchSize
        nIter = f.int("n_iter", in: 1...Int64(limits.imagesPerRequest)).map { Int($0) } ?? nIter
        if batchSize * nIter > limits.imagesPerRequest {
            f.fail("n_iter", "batch_size * n_iter = \(batchSize * nIter) images; at most \(limits.imagesPerRequest) per request",
                   type: "value_error.number.not_le", context: ["limit_value": JSONValue(limits.imagesPerRequest)])
        }
        let e = GenerationRequest.etaRange
        eta = f.float("eta", in: Double(e.lowerBound)...Double(e.upperBound)).map { Float($0) }
        sendImages = f.bool("send_images") ?? sendImages
        saveImages = f.bool("save_images") ?? saveImages
    }

    /// `sd_model_checkpoint` must name a model the server offers; the plan comes from `accel`, then
    /// `override_settings.dato_accel`, then AUTOMATIC1111's `token_merging_ratio` (tome:R), then the server's default.
    private mutating func readOverrides(_ f: inout FieldReader, catalog: ModelCatalog, accel: String?, defaultAccel: String?) {
        checkpoint = f.string("sd_model_checkpoint")
        if let name = checkpoint, !catalog.knows(name) {
            f.fail("sd_model_checkpoint", "model '\(name)' is not offered by this server (GET /sdapi/v1/sd-models lists them)", type: "value_error.model")
        }
        let datoAccel = f.string("dato_accel")
        let tome = f.float("token_merging_ratio", in: 0...0.9)
        if let accel, !accel.isEmpty {
            (plan, planSource) = (accel, "accel")
        } else if let datoAccel, !datoAccel.isEmpty {
            (plan, planSource) = (datoAccel, "override_settings.dato_accel")
        } else if let tome, tome > 0 {
            (plan, planSource) = ("tome:\(tome)", "override_settings.token_merging_ratio")
        } else {
            (plan, planSource) = (defaultAccel, "accel")
        }
        if plan?.trimmingCharacters(in: .whitespaces).lowercased() == "none" { plan = nil }
    }

    /// The plan read from its text alone (never a file on the server) and checked against the steps.
    private func checkPlan() -> [ValidationIssue] {
        guard let plan else { return [] }
        do {
            try PlanSpec(parsing: plan, files: false).check(steps: steps)
            return []
        } catch {
            return [.body(planSource.split(separator: ".").map(String.init), "\(error)", type: "value_error.plan")]
        }
    }

    private func echo(overrides: [String: JSONValue]) -> [String: JSONValue] {
        ["prompt": .string(prompt), "negative_prompt": .string(negativePrompt), "seed": .int(seed), "steps": JSONValue(steps),
         "cfg_scale": JSONValue(cfgScale), "width": JSONValue(width), "height": JSONValue(height),
         "sampler_name": .string(samplerName), "scheduler": JSONValue(scheduler), "batch_size": JSONValue(batchSize),
         "n_iter": JSONValue(nIter), "eta": eta.map { JSONValue($0) } ?? .null, "override_settings": .object(overrides),
         "send_images": .bool(sendImages), "save_images": .bool(saveImages), "accel": JSONValue(plan)]
    }
}
