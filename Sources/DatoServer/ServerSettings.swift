/// How `dato serve` runs: where it listens, who may call it, how many jobs wait, and the request limits that keep
/// memory bounded. An explicit value the caller builds (the CLI from its flags); the library reads nothing else.
public struct ServerSettings: Sendable {
    /// Address to listen on (127.0.0.1: this machine only) and port (0 picks a free one).
    public var host: String = "127.0.0.1"
    public var port: Int = 7860
    /// The plan every txt2img request runs unless it names one (`accel`, `override_settings.dato_accel` or
    /// `token_merging_ratio`); nil runs the full model.
    public var defaultAccel: String? = nil
    /// HTTP basic credentials (user, password); empty leaves the API open, as AUTOMATIC1111 without --api-auth.
    public var credentials: [BasicCredential] = []
    /// Requests that may wait behind the running ones; more are answered 503 with Retry-After.
    public var queueSize: Int = 8
    /// Jobs that run at once on the loaded (reentrant) pipeline, sharing the compute threads; 1 runs them one
    /// at a time. `/progress` reports the earliest running job; `/interrupt` and `/skip` act on every running one.
    public var parallel: Int = 1
    /// Where `save_images` writes PNGs (AUTOMATIC1111: outputs/txt2img-images); nil refuses `save_images`.
    public var outputDirectory: String? = nil
    public var limits = RequestLimits()

    public init() {}
}

/// One user and password of `--api-auth`.
public struct BasicCredential: Sendable, Equatable {
    public let user: String
    public let password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Parses AUTOMATIC1111's `--api-auth` value: `user:password`, several separated by commas. The password
    /// is everything after the first colon.
    public static func parseList(_ text: String) throws -> [BasicCredential] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            guard let colon = item.firstIndex(of: ":"), colon != item.startIndex,
                  item.index(after: colon) != item.endIndex else {
                throw ServerSettingsError("--api-auth takes user:password (several separated by commas); got an entry without both")
            }
            return BasicCredential(user: String(item[..<colon]), password: String(item[item.index(after: colon)...]))
        }
    }
}

/// Bounds on what one request may ask for, so that memory and time stay bounded whatever strangers send.
public struct RequestLimits: Sendable {
    /// Largest request body in bytes (a txt2img request is a few hundred bytes; prompts are at most 77 tokens).
    public var bodyBytes: Int = 1 << 20
    /// Largest width and height in pixels.
    public var side: Int = 2048
    /// Most denoising steps.
    public var steps: Int = 150
    /// Most images per batch (`batch_size`) and per request (`batch_size * n_iter`).
    public var batchSize: Int = 8
    public var imagesPerRequest: Int = 16

    public init() {}
}

/// A setting the server cannot run with.
public struct ServerSettingsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
