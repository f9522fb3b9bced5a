import DatoDemo
import DatoPipeline
import DatoServer
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import XCTest

/// The demo model, loaded once for all server tests.
enum ServedDemo {
    static let model: Result<ServedModel, Error> = Result {
        let path = try DemoModel.folder()
        return ServedModel(pipeline: try StableDiffusionPipeline.load(path: path), path: path, hash: "0123456789")
    }
}

/// Runs `body` against a live server (ephemeral port on loopback, AsyncHTTPClient as the client).
func withServer(_ configure: (inout ServerSettings) -> Void = { _ in },
                _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
    var settings = ServerSettings()
    settings.port = 0
    settings.outputDirectory = nil
    configure(&settings)
    let server = try DatoServer(settings: settings, model: try ServedDemo.model.get())
    try await server.application().test(.ahc(.http)) { client in try await body(client) }
}

extension TestClientProtocol {
    /// POSTs a JSON value (given as text) and returns the response.
    func post(_ uri: String, json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var h = headers
        h[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: headers)
    }
}

extension TestResponse {
    /// The body parsed as JSON (Foundation objects).
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed]) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var text: String { String(buffer: body) }

    /// The `loc` of every issue of a 422 answer, joined with dots after "body".
    var issueFields: [String] {
        (object["detail"] as? [[String: Any]] ?? []).map { ($0["loc"] as? [String] ?? []).dropFirst().joined(separator: ".") }
    }

    /// txt2img's `info`, which is a JSON string.
    var info: [String: Any] {
        guard let text = object["info"] as? String,
              let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
        return o
    }
}

/// Polls `/sdapi/v1/progress` until the running job has made a UNet call (at most `seconds`).
func waitForSampling(_ client: any TestClientProtocol, seconds: Double = 10) async throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let p = try await client.get("/sdapi/v1/progress").object
        if let state = p["state"] as? [String: Any], (state["sampling_step"] as? Int ?? 0) > 0 { return p }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    XCTFail("no job started sampling within \(seconds) s")
    return [:]
}

/// Sends a POST of `json` to 127.0.0.1:`port` over a plain socket and closes the connection without reading the
/// answer: a client that gives up.
func postAndHangUp(port: Int, path: String, json: String) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EBADF) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    let request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
    let bytes = Array(request.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { throw POSIXError(.EIO) }
    usleep(200_000)   // the server reads the request before the connection closes
}
