import Foundation
import Hummingbird

/// The web page at `/`: plain HTML, CSS and JavaScript from the target's resources (no CDN), read once.
struct WebPage: Sendable {
    struct File: Sendable {
        let data: Data
        let contentType: String
    }

    let files: [String: File]

    /// Reads `index.html`, `app.js` and `style.css` from the bundle; a missing file is an error naming it.
    static func load() throws -> WebPage {
        var files: [String: File] = [:]
        for (name, type) in [("index.html", "text/html; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
                             ("style.css", "text/css; charset=utf-8")] {
            guard let dir = Bundle.module.url(forResource: "web", withExtension: nil),
                  let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else {
                throw ServerSettingsError("the web page's resource web/\(name) is missing from the DatoServer bundle")
            }
            files[name] = File(data: data, contentType: type)
        }
        return WebPage(files: files)
    }

    func response(_ name: String) -> Response {
        guard let file = files[name] else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.data)))
    }
}
