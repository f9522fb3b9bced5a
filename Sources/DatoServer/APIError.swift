import Foundation
import Hummingbird

/// One problem with a request, as FastAPI (pydantic 1, which AUTOMATIC1111 runs) lists it in a 422 answer:
/// where (`["body", "steps"]`), what is wrong, and a machine-readable type.
public struct ValidationIssue: Sendable, Equatable {
    public var location: [String]
    public var message: String
    public var type: String
    /// Extra values of the check (e.g. `limit_value`), as pydantic's `ctx`.
    public var context: [String: JSONValue]

    public init(location: [String], message: String, type: String, context: [String: JSONValue] = [:]) {
        self.location = location
        self.message = message
        self.type = type
        self.context = context
    }

    /// An issue with a field of the JSON body (`override_settings.dato_accel` is `["override_settings", "dato_accel"]`).
    static func body(_ field: [String], _ message: String, type: String = "value_error",
                     context: [String: JSONValue] = [:]) -> ValidationIssue {
        ValidationIssue(location: ["body"] + field, message: message, type: type, context: context)
    }

    var json: JSONValue {
        var object: [String: JSONValue] = ["loc": .array(location.map { .string($0) }), "msg": .string(message),
                                           "type": .string(type)]
        if !context.isEmpty { object["ctx"] = .object(context) }
        return .object(object)
    }
}

/// An error answer of the API, with FastAPI's body shapes: `{"detail": [issues]}` for a bad request (422) and
/// `{"detail": "text"}` for the others.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let detail: JSONValue
    public let headers: HTTPFields
    private let storedIssues: [ValidationIssue]

    public init(status: HTTPResponse.Status, detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = .string(detail)
        self.headers = headers
        storedIssues = []
    }

    /// 422 Unprocessable Entity listing what is wrong with the request.
    public init(issues: [ValidationIssue]) {
        status = .unprocessableContent
        detail = .array(issues.map(\.json))
        headers = [:]
        storedIssues = issues
    }

    /// 422 for one field of the body.
    static func invalid(_ field: [String], _ message: String, type: String = "value_error",
                        context: [String: JSONValue] = [:]) -> APIError {
        APIError(issues: [.body(field, message, type: type, context: context)])
    }

    /// The issues of a 422 answer (empty for other statuses).
    var issues: [ValidationIssue] { storedIssues }

    public var description: String { "HTTP \(status.code): \(detail.jsonText)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(["detail": detail], status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// JSON answers.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                         body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
