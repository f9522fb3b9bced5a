import Foundation
import Hummingbird

/// HTTP basic authentication, as AUTOMATIC1111's `--api-auth`: 401 with `WWW-Authenticate: Basic` when the
/// credentials are missing ("Not authenticated") or wrong ("Incorrect username or password"). Everything but
/// `/health` (for load balancers) is guarded: the page too, so that a browser asks for the login when it opens
/// the page and sends it with the page's API calls.
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let credentials: [BasicCredential]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !credentials.isEmpty, request.uri.path != "/health" else { return try await next(request, context) }
        let challenge: HTTPFields = [.wwwAuthenticate: "Basic"]
        guard let header = request.headers[.authorization], let (user, password) = Self.decode(header) else {
            throw APIError(status: .unauthorized, detail: "Not authenticated", headers: challenge)
        }
        guard credentials.contains(where: { Self.same($0.user, user) && Self.same($0.password, password) }) else {
            throw APIError(status: .unauthorized, detail: "Incorrect username or password", headers: challenge)
        }
        return try await next(request, context)
    }

    /// `Basic base64(user:password)` -> (user, password); nil for any other header.
    static func decode(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", parts[1].utf8.count <= 4096,
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// Compares without stopping at the first difference (time does not tell how much of a guess was right).
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}
