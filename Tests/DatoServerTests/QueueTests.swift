import DatoServer
import Foundation
import HummingbirdTesting
import XCTest

/// The job queue: progress while a job runs, interrupt and skip at the next UNet call, 503 when full.
final class QueueTests: XCTestCase {
    /// A request that runs for a while on the demo model (until interrupted).
    static let longJob = #"{"prompt": "x", "seed": 3, "steps": 400, "width": 64, "height": 64, "n_iter": 3}"#

    func testInterruptStopsTheRunningJobAndProgressReportsIt() async throws {
        try await withServer({ $0.limits.steps = 1000 }) { client in
            async let long = client.post("/sdapi/v1/txt2img", json: Self.longJob)
            let p = try await waitForSampling(client)
            let state = p["state"] as? [String: Any] ?? [:]
            XCTAssertEqual(state["job_count"] as? Int, 3)
            XCTAssertEqual(state["sampling_steps"] as? Int, 400)
            XCTAssertEqual(state["interrupted"] as? Bool, false)
            XCTAssertGreaterThan(p["progress"] as? Double ?? 0, 0)
            XCTAssertGreaterThan(p["eta_relative"] as? Double ?? 0, 0)
            let started = Date()
            let interrupt = try await client.post("/sdapi/v1/interrupt", json: "")
            XCTAssertEqual(interrupt.status, .ok)
            let r = try await long
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the job stops at its next UNet call")
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertEqual((r.object["images"] as? [String])?.count, 0)
            XCTAssertEqual(r.info["dato_interrupted"] as? Bool, true)
            let idle = try await client.get("/sdapi/v1/progress").object
            XCTAssertEqual(idle["progress"] as? Double, 0)
            XCTAssertEqual((idle["state"] as? [String: Any])?["job_count"] as? Int, 0)
        }
    }

    func testSkipDropsTheCurrentImageOnly() async throws {
        try await withServer({ $0.limits.steps = 1000 }) { client in
            async let job = client.post("/sdapi/v1/txt2img", json: #"{"prompt": "x", "seed": 3, "steps": 400, "width": 64, "height": 64, "batch_size": 2}"#)
            _ = try await waitForSampling(client)
            _ = try await client.post("/sdapi/v1/skip", json: "")
            // The second image runs its 400 steps: interrupt it once it samples.
            try await Task.sleep(nanoseconds: 200_000_000)
            _ = try await waitForSampling(client)
            _ = try await client.post("/sdapi/v1/interrupt", json: "")
            let r = try await job
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertEqual(r.info["dato_interrupted"] as? Bool, true)
            XCTAssertEqual((r.object["images"] as? [String])?.count, 0)
        }
    }

    func testFullQueueAnswers503WithRetryAfter() async throws {
        try await withServer({ $0.limits.steps = 1000; $0.queueSize = 0 }) { client in
            async let long = client.post("/sdapi/v1/txt2img", json: Self.longJob)
            _ = try await waitForSampling(client)
            let refused = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "y", "steps": 1, "width": 64, "height": 64}"#)
            XCTAssertEqual(refused.status, .serviceUnavailable, refused.text)
            let retry = try XCTUnwrap(refused.headers[.retryAfter].flatMap { Int($0) })
            XCTAssertGreaterThanOrEqual(retry, 1)
            XCTAssertNotNil(refused.object["detail"] as? String)
            _ = try await client.post("/sdapi/v1/interrupt", json: "")
            let finished = try await long
            XCTAssertEqual(finished.status, .ok)
            let admitted = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "y", "steps": 1, "width": 64, "height": 64}"#)
            XCTAssertEqual(admitted.status, .ok, "the next request is admitted once the queue has room")
        }
    }

    func testAJobWhoseClientHangsUpIsDroppedFromTheQueue() async throws {
        try await withServer({ $0.limits.steps = 1000 }) { client in
            async let long = client.post("/sdapi/v1/txt2img", json: Self.longJob)
            _ = try await waitForSampling(client)
            try postAndHangUp(port: try XCTUnwrap(client.port), path: "/sdapi/v1/txt2img", json: Self.longJob)
            let waiting = try await client.get("/health").object["waiting"] as? Int
            XCTAssertEqual(waiting, 1, "the hung-up request was queued")
            _ = try await client.post("/sdapi/v1/interrupt", json: "")
            let first = try await long
            XCTAssertEqual(first.status, .ok)
            try await Task.sleep(nanoseconds: 300_000_000)
            let p = try await client.get("/sdapi/v1/progress").object
            XCTAssertEqual((p["state"] as? [String: Any])?["job_count"] as? Int, 0, "the dropped job does not run: \(p)")
            let health = try await client.get("/health").object
            XCTAssertEqual(health["waiting"] as? Int, 0)
        }
    }

    func testQueuedJobsRunInArrivalOrder() async throws {
        try await withServer({ $0.queueSize = 4 }) { client in
            let results = try await withThrowingTaskGroup(of: (Int, Date).self) { group in
                for i in 0..<3 {
                    group.addTask {
                        try await Task.sleep(nanoseconds: UInt64(i) * 150_000_000)
                        let r = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "x", "seed": \#(i), "steps": 30, "width": 64, "height": 64}"#)
                        XCTAssertEqual(r.status, .ok, r.text)
                        return (i, Date())
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(results.sorted { $0.1 < $1.1 }.map(\.0), [0, 1, 2])
        }
    }
}

/// `--parallel 2`: two jobs run at once on the one loaded model; interrupt stops both.
final class ParallelQueueTests: XCTestCase {
    func testTwoJobsRunAtOnceAndInterruptStopsBoth() async throws {
        try await withServer({ $0.limits.steps = 1000; $0.parallel = 2; $0.queueSize = 0 }) { client in
            async let a = client.post("/sdapi/v1/txt2img", json: QueueTests.longJob)
            async let b = client.post("/sdapi/v1/txt2img", json: QueueTests.longJob)
            let deadline = Date().addingTimeInterval(10)
            var running = 0
            while Date() < deadline && running < 2 {
                running = try await client.get("/health").object["running"] as? Int ?? 0
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            XCTAssertEqual(running, 2)
            let third = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "y", "steps": 1, "width": 64, "height": 64}"#)
            XCTAssertEqual(third.status, .serviceUnavailable, "two running, none may wait")
            _ = try await client.post("/sdapi/v1/interrupt", json: "")
            let (ra, rb) = try await (a, b)
            XCTAssertEqual(ra.info["dato_interrupted"] as? Bool, true, ra.text)
            XCTAssertEqual(rb.info["dato_interrupted"] as? Bool, true, rb.text)
        }
    }
}
