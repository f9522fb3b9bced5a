import ArgumentParser
import DatoAccel
import DatoPipeline
import DatoServer
import Foundation

/// `dato serve`: the AUTOMATIC1111-compatible web API and a web page over one loaded model.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the AUTOMATIC1111 web API (/sdapi/v1) and a web page for one model.",
        discussion: """
            Clients of AUTOMATIC1111's API (webuiapi, editor plug-ins, scripts) work unchanged: POST \
            /sdapi/v1/txt2img, GET /sdapi/v1/progress, POST /sdapi/v1/interrupt, ... Requests run one at a time in \
            arrival order. A request picks an acceleration plan with 'accel' or override_settings.dato_accel \
            (token_merging_ratio maps to tome:R). The page at / generates from a browser. docs/server.md has more.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("model-dir"), help: "Offer the models of this folder (diffusers folders, .safetensors and .ckpt files) for switching with sd_model_checkpoint; without -m the first is loaded.")
    var modelDir: String?

    @Option(help: "Address to listen on (0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (AUTOMATIC1111's 7860; 0 picks a free one).")
    var port = 7860

    @Option(name: .customLong("default-accel"), help: ArgumentHelp("Plan for requests that name none (any plan dato generate --accel takes).", valueName: "plan"))
    var defaultAccel: String?

    @Option(name: .customLong("api-auth"), help: ArgumentHelp("HTTP basic authentication of the API, as AUTOMATIC1111: user:password (several separated by commas).", valueName: "credentials"))
    var apiAuth: String?

    @Option(name: .customLong("queue-size"), help: "Requests that may wait behind the running one; more get 503 with Retry-After.")
    var queueSize = 8

    @Option(help: "Jobs that run at once on the loaded model (they share the compute threads).")
    var parallel = 1

    @Option(name: .customLong("max-side"), help: "Largest width and height a request may ask for (pixels).")
    var maxSide = 2048

    @Option(name: .customLong("max-steps"), help: "Most steps a request may ask for.")
    var maxSteps = 150

    @Option(name: .customLong("max-images"), help: "Most images per request (batch_size * n_iter).")
    var maxImages = 16

    @Flag(help: "Decode images larger than the VAE's tile in overlapping tiles (much less memory for large images), as dato generate --vae-tiling.")
    var vaeTiling = false

    @Option(name: .customLong("output-dir"), help: "Where requests with save_images write their PNGs.")
    var outputDir = "outputs/txt2img-images"

    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        try checkArguments {
            try ArgumentCheck.integer(port, "--port", in: 0...65535)
            try ArgumentCheck.integer(queueSize, "--queue-size", in: 0...10_000)
            try ArgumentCheck.integer(parallel, "--parallel", in: 1...64)
            try ArgumentCheck.integer(maxSide, "--max-side", in: 8...ArgumentCheck.maximumImageSide)
            try ArgumentCheck.integer(maxSteps, "--max-steps", in: 1...1000)
            try ArgumentCheck.integer(maxImages, "--max-images", in: 1...1000)
            if let defaultAccel { _ = try PlanSpec(parsing: defaultAccel) }
        }
        if let apiAuth {
            do { _ = try BasicCredential.parseList(apiAuth) } catch { throw ValidationError("\(error)") }
        }
    }

    func settings() throws -> ServerSettings {
        var s = ServerSettings()
        s.host = host
        s.port = port
        s.queueSize = queueSize
        s.parallel = parallel
        s.limits.side = maxSide
        s.limits.steps = maxSteps
        s.limits.imagesPerRequest = maxImages
        s.limits.batchSize = min(s.limits.batchSize, maxImages)
        s.outputDirectory = outputDir
        s.credentials = try apiAuth.map(BasicCredential.parseList) ?? []
        if let defaultAccel {
            // A plan file is read here, once: requests never make the server read files.
            let isFile = (try? PlanSpec(parsing: defaultAccel, files: false)) == nil
            s.defaultAccel = isFile ? try String(contentsOfFile: defaultAccel, encoding: .utf8) : defaultAccel
        }
        return s
    }

    /// The models of `--model-dir`, sorted by name: diffusers folders (with model_index.json) and checkpoint files.
    func entries() throws -> [ModelEntry] {
        guard let modelDir else { return [] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: modelDir) else {
            throw ValidationError("--model-dir: cannot list '\(modelDir)'")
        }
        return names.sorted().compactMap { name -> ModelEntry? in
            let path = (modelDir as NSString).appendingPathComponent(name)
            let ext = (name as NSString).pathExtension.lowercased()
            if ext == "safetensors" || ext == "ckpt" { return ModelEntry(name: (name as NSString).deletingPathExtension, path: path) }
            let index = (path as NSString).appendingPathComponent("model_index.json")
            return FileManager.default.fileExists(atPath: index) ? ModelEntry(name: name, path: path) : nil
        }
    }

    /// Loads a model with this command's settings (precision, config folder, variant, ...).
    func load(path: String, name: String?) throws -> ServedModel {
        let t0 = Date()
        let pipe = try StableDiffusionPipeline.load(path: path, configFolder: modelOptions.config, useEMA: modelOptions.ema,
                                                    compute: modelOptions.settings(),
                                                    predictionType: modelOptions.predictionType, variant: modelOptions.variant)
        pipe.vaeTiling = vaeTiling
        for n in pipe.models.notes { FileHandle.standardError.write("note: \(n)\n") }
        for w in pipe.models.warnings { FileHandle.standardError.write("warning: \(w)\n") }
        let hash = GenerationParameters.modelHash(path: path, variant: modelOptions.variant, cacheDirectory: CacheDirectory.current)
        let precision = modelOptions.precision == .fp32 ? nil : modelOptions.precision.rawValue
        let model = ServedModel(pipeline: pipe, path: path, hash: hash, precision: precision, name: name)
        let loading = Date().timeIntervalSince(t0)
        let preparing = try pipe.prepareKernels()
        FileHandle.standardError.write(String(format: "loaded %@ in %.1f s (kernels prepared in %.1f s)\n", model.title,
                                              loading, preparing))
        return model
    }

    func run() throws {
        threadOptions.apply()
        let settings = try settings()
        let entries = try entries()
        let first = modelOptions.model == nil ? entries.first : nil
        let model = try load(path: try first?.path ?? modelOptions.path(), name: first?.name)
        let command = self
        let catalog = ModelCatalog(loaded: model, entries: entries) { entry in try command.load(path: entry.path, name: entry.name) }
        let server = try DatoServer(settings: settings, catalog: catalog)
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do {
                try await server.run { port in print("dato serve: http://\(settings.host):\(port)/ (API at /sdapi/v1)") }
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }
}

/// The server task's error, handed back to the command's thread.
private final class FailureBox: @unchecked Sendable {
    var error: Error?
}
