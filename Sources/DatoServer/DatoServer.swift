import DatoPipeline
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `dato serve`: the AUTOMATIC1111-compatible web API (`/sdapi/v1/...`) over the catalog's loaded model, its
/// job queue and the web page at `/`. Everything it needs comes in through `settings` and `catalog`.
public struct DatoServer: Sendable {
    public let settings: ServerSettings
    public let catalog: ModelCatalog
    let queue: JobQueue
    let page: WebPage

    /// A server of one model.
    public init(settings: ServerSettings, model: ServedModel) throws {
        try self.init(settings: settings, catalog: ModelCatalog(loaded: model))
    }

    /// A server of the catalog's models (one loaded at a time).
    public init(settings: ServerSettings, catalog: ModelCatalog) throws {
        guard settings.queueSize >= 0 else { throw ServerSettingsError("--queue-size must be at least 0; got \(settings.queueSize)") }
        guard (0...65535).contains(settings.port) else { throw ServerSettingsError("--port must be in 0...65535; got \(settings.port)") }
        guard (1...64).contains(settings.parallel) else { throw ServerSettingsError("--parallel must be in 1...64; got \(settings.parallel)") }
        self.settings = settings
        self.catalog = catalog
        queue = JobQueue(waiting: settings.queueSize, parallel: settings.parallel)
        page = try WebPage.load()
    }

    /// The application: routes, authentication and the listening address. `onRunning` gets the port it listens
    /// on (the one picked when `settings.port` is 0).
    public func application(logger: Logger? = nil,
                            onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "dato"),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
                    logger: logger ?? Logger(label: "dato-serve"))
    }

    /// Serves until the process is stopped (SIGINT, SIGTERM).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(onRunning: onRunning).runService()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorShapeMiddleware())
        router.add(middleware: BasicAuthMiddleware(credentials: settings.credentials))
        router.get("/") { _, _ in page.response("index.html") }
        router.get("/app.js") { _, _ in page.response("app.js") }
        router.get("/style.css") { _, _ in page.response("style.css") }
        router.get("/health") { _, _ in health() }
        let api = router.group("sdapi/v1")
        api.post("txt2img") { request, context in try await txt2img(request, context: context) }
        api.post("img2img") { _, _ -> Response in
            throw APIError(status: .notImplemented, detail: "img2img is not supported yet by dato serve; use /sdapi/v1/txt2img")
        }
        api.get("progress") { _, _ in progress() }
        api.post("interrupt") { _, _ in queue.status.running.forEach { $0.interrupt() }; return JSONResponse.make([:]) }
        api.post("skip") { _, _ in queue.status.running.forEach { $0.skip() }; return JSONResponse.make(.null) }
        api.get("samplers") { _, _ in JSONResponse.make(SamplerCatalog.samplerListing) }
        api.get("schedulers") { _, _ in JSONResponse.make(SamplerCatalog.schedulerListing) }
        api.get("sd-models") { _, _ in JSONResponse.make(catalog.listing) }
        api.post("refresh-checkpoints") { _, _ in JSONResponse.make(.null) }
        api.get("options") { _, _ in JSONResponse.make(options()) }
        api.post("options") { request, _ in try await setOptions(request) }
        api.get("cmd-flags") { _, _ in JSONResponse.make(commandFlags()) }
        api.post("png-info") { request, _ in try await pngInfo(request) }
        router.get("/dato/v1/plan-cost") { request, _ in try planCost(request) }
        return router
    }

    /// The request body, at most `limits.bodyBytes` (413 beyond).
    func body(_ request: Request) async throws -> Data {
        try await collect(request.body)
    }

    func collect(_ body: RequestBody) async throws -> Data {
        let limit = settings.limits.bodyBytes
        do {
            return Data(buffer: try await body.collect(upTo: limit))
        } catch is NIOTooManyBytesError {
            throw APIError(status: .contentTooLarge, detail: "the request body is larger than \(limit) bytes")
        }
    }

    /// txt2img through the queue. A client that closes its connection has its job dropped while it waits, or
    /// stopped at the next UNet call while it runs. Watching for that ends the connection after the answer, so
    /// every answer says `Connection: close` (clients then open a new one instead of reusing a closed one).
    func txt2img(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let progress = JobProgress()
        var response = try await request.body.consumeWithInboundCloseHandler { body in
            do {
                let r = try Txt2ImgRequest.parse(try await collect(body), catalog: catalog, settings: settings)
                return try await run(r, progress: progress)
            } catch let error as APIError {
                return try error.response(from: request, context: context)
            }
        } onInboundClosed: {
            progress.clientGone()
        }
        response.headers[.connection] = "close"
        return response
    }

    private func run(_ r: Txt2ImgRequest, progress: JobProgress) async throws -> Response {
        do {
            let result = try await queue.run(images: r.imageCount, progress: progress) { [catalog, settings] progress in
                try Txt2ImgRunner(model: try catalog.use(r.checkpoint), settings: settings).run(r, progress: progress)
            }
            return JSONResponse.make(result.json)
        } catch let full as JobQueue.QueueFull {
            throw APIError(status: .serviceUnavailable,
                           detail: "the queue is full (\(settings.queueSize) waiting); retry after \(full.retryAfter) s",
                           headers: [.retryAfter: "\(full.retryAfter)"])
        } catch is JobQueue.Dropped {
            throw APIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"), detail: "the client closed the connection")
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: .internalServerError, detail: "\(error)")
        }
    }

    func progress() -> Response {
        let status = queue.status
        return JSONResponse.make(status.running.first?.snapshot(queued: status.waiting) ?? JobProgress.idle(queued: status.waiting))
    }

    func health() -> Response {
        let status = queue.status
        return JSONResponse.make(["status": "ok", "model": .string(catalog.current.title), "running": JSONValue(status.running.count),
                                  "waiting": JSONValue(status.waiting), "queue_size": JSONValue(settings.queueSize)])
    }
}
