import Foundation

/// What the running job is doing, read by `/sdapi/v1/progress` and changed by `/interrupt` and `/skip`.
/// Shared between the worker thread and request handlers, so every access takes the lock.
final class JobProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var imageIndex = 0, imageCount = 0
    private var step = 0, stepCount = 0
    private var interruptFlag = false, skipFlag = false, goneFlag = false
    private var startDate = Date()
    /// AUTOMATIC1111's job timestamp (local time, yyyyMMddHHmmss).
    private(set) var timestamp = "0"

    /// A job's progress, made when its request arrives (so that a client leaving while it waits can drop it).
    init() {}

    /// Marks the job as started now, making `images` images.
    func start(images: Int) {
        let now = Self.timestampNow()
        locked { imageCount = images; startDate = Date(); timestamp = now }
    }

    /// When the job started running.
    var started: Date { locked { startDate } }

    /// The time now as AUTOMATIC1111 stamps jobs.
    static func timestampNow() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMddHHmmss"
        return f.string(from: Date())
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Starts image `index` (0-based) of the job.
    func beginImage(_ index: Int) { locked { imageIndex = index; step = 0; skipFlag = false } }

    /// Records UNet call `done` of `total` and tells whether the image should go on.
    func advance(done: Int, total: Int) -> Bool {
        locked { step = done; stepCount = total; return !interruptFlag && !skipFlag }
    }

    /// Stops the job at its next UNet call (AUTOMATIC1111's interrupt).
    func interrupt() { locked { interruptFlag = true } }
    /// Stops the current image at its next UNet call; the job goes on with the next image.
    func skip() { locked { skipFlag = true } }

    /// The client closed its connection: a waiting job is dropped, a running one stops at its next UNet call.
    func clientGone() { locked { goneFlag = true; interruptFlag = true } }

    var interrupted: Bool { locked { interruptFlag } }
    var isClientGone: Bool { locked { goneFlag } }
    var skipped: Bool { locked { skipFlag } }

    /// AUTOMATIC1111's `/progress` answer for this job: progress 0...1 over all images, the estimated seconds left
    /// and the `state` object.
    func snapshot(queued: Int) -> JSONValue {
        let (index, count, s, total, interrupted, skipped) = locked { (imageIndex, imageCount, step, stepCount, interruptFlag, skipFlag) }
        var progress = 0.01 + Double(index) / Double(max(count, 1))
        if total > 0 { progress += Double(s) / Double(total) / Double(max(count, 1)) }
        let elapsed = Date().timeIntervalSince(locked { startDate })
        let eta = max(elapsed / progress - elapsed, 0)
        return ["progress": .double(min(progress, 1)), "eta_relative": .double(eta),
                "state": Self.state(job: "txt2img", count: count, index: index, step: s, steps: total,
                                    interrupted: interrupted, skipped: skipped, timestamp: timestamp, queued: queued),
                "current_image": .null, "textinfo": .null]
    }

    /// The answer when no job runs.
    static func idle(queued: Int) -> JSONValue {
        ["progress": 0.0, "eta_relative": 0.0,
         "state": state(job: "", count: 0, index: 0, step: 0, steps: 0, interrupted: false, skipped: false,
                        timestamp: "0", queued: queued),
         "current_image": .null, "textinfo": .null]
    }

    /// AUTOMATIC1111's `shared.state.dict()`; `job_count` counts the job's images (this engine makes them one at
    /// a time), `dato_queued` the requests waiting behind it.
    private static func state(job: String, count: Int, index: Int, step: Int, steps: Int, interrupted: Bool,
                              skipped: Bool, timestamp: String, queued: Int) -> JSONValue {
        ["skipped": .bool(skipped), "interrupted": .bool(interrupted), "stopping_generation": false, "job": .string(job),
         "job_count": JSONValue(count), "job_timestamp": .string(timestamp), "job_no": JSONValue(index),
         "sampling_step": JSONValue(step), "sampling_steps": JSONValue(steps), "dato_queued": JSONValue(queued)]
    }
}
