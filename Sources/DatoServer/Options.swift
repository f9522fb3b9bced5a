import Foundation
import Hummingbird

/// `/sdapi/v1/options` and `/sdapi/v1/cmd-flags`. The server keeps no settings between requests: GET reports
/// what it runs with, POST accepts `sd_model_checkpoint` naming an offered model (switching to it through the
/// queue) and ignores the other keys, as AUTOMATIC1111 ignores unknown ones.
extension DatoServer {
    func options() -> JSONValue {
        let model = catalog.current
        var limits: [String: JSONValue] = [:]
        let l = settings.limits
        limits = ["body_bytes": JSONValue(l.bodyBytes), "side": JSONValue(l.side), "steps": JSONValue(l.steps),
                  "batch_size": JSONValue(l.batchSize), "images_per_request": JSONValue(l.imagesPerRequest)]
        return ["sd_model_checkpoint": .string(model.title), "sd_checkpoint_hash": JSONValue(model.sha256),
                "samples_format": "png", "outdir_txt2img_samples": JSONValue(settings.outputDirectory),
                "return_grid": false, "eta_ddim": 0.0, "eta_ancestral": 1.0, "token_merging_ratio": 0.0,
                "dato_accel": .string(settings.defaultAccel ?? "none"),
                "dato_native_size": JSONValue(model.pipeline.nativeSize), "dato_limits": .object(limits)]
    }

    func setOptions(_ request: Request) async throws -> Response {
        var reader = FieldReader(try JSONValue.bodyObject(try await body(request)))
        let name = reader.string("sd_model_checkpoint")
        if let name, !catalog.knows(name) {
            reader.fail("sd_model_checkpoint", "model '\(name)' is not offered by this server (GET /sdapi/v1/sd-models lists them)",
                        type: "value_error.model")
        }
        guard reader.issues.isEmpty else { throw APIError(issues: reader.issues) }
        if let name, !catalog.current.isNamed(name) {   // switch in the queue, after the jobs before it
            do {
                _ = try await queue.run(images: 0, progress: JobProgress()) { [catalog] _ in try catalog.use(name) }
            } catch let full as JobQueue.QueueFull {
                throw APIError(status: .serviceUnavailable, detail: "the queue is full; retry after \(full.retryAfter) s",
                               headers: [.retryAfter: "\(full.retryAfter)"])
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError(status: .internalServerError, detail: "cannot load '\(name)': \(error)")
            }
        }
        return JSONResponse.make(.null)
    }

    func commandFlags() -> JSONValue {
        let model = catalog.current
        return ["api": true, "nowebui": false, "listen": .bool(settings.host != "127.0.0.1" && settings.host != "localhost"),
         "port": JSONValue(settings.port), "api_auth": .null, "ckpt": .string(model.path),
         "dato_default_accel": JSONValue(settings.defaultAccel), "dato_queue_size": JSONValue(settings.queueSize)]
    }
}
