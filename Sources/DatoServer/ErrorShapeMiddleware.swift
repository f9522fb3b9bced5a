import Hummingbird

/// Hummingbird's own errors (an unknown route, a method the route lacks) in FastAPI's shape,
/// `{"detail": "Not Found"}`, like every other error of the API.
struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            throw APIError(status: error.status, detail: error.body ?? error.status.reasonPhrase, headers: error.headers)
        }
    }
}
