import DatoAccel
import DatoPipeline
import Foundation
import Hummingbird

/// `GET /dato/v1/plan-cost?accel=PLAN&steps=N&sampler_name=S&scheduler=K&width=W&height=H`: what a plan keeps
/// of the full model's UNet MACs before anything runs, for the page's acceleration picker. The caching part is
/// exact (depths per call); pruning removes more, which depends on the tokens and is measured while generating
/// (txt2img's `info.dato_mac_ratio`).
extension DatoServer {
    func planCost(_ request: Request) throws -> Response {
        let model = catalog.current
        let q = request.uri.queryParameters
        var object: [String: JSONValue] = [:]
        for key in ["accel", "sampler_name", "scheduler"] { if let v = q[Substring(key)] { object[key] = .string(String(v)) } }
        var issues: [ValidationIssue] = []
        for key in ["steps", "width", "height"] {
            guard let v = q[Substring(key)] else { continue }
            if let n = Int64(v) { object[key] = .int(n) } else {
                issues.append(ValidationIssue(location: ["query", key], message: "value is not a valid integer", type: "type_error.integer"))
            }
        }
        guard issues.isEmpty else { throw APIError(issues: issues) }
        if object["width"] == nil { object["width"] = JSONValue(model.pipeline.nativeSize) }
        if object["height"] == nil { object["height"] = JSONValue(model.pipeline.nativeSize) }
        let data = try JSONEncoder().encode(JSONValue.object(object))
        let r: Txt2ImgRequest
        do {
            r = try Txt2ImgRequest.parse(data, catalog: catalog, settings: settings)
        } catch let error as APIError {   // the same checks as txt2img, reported as query fields
            throw APIError(issues: error.issues.map { ValidationIssue(location: ["query"] + $0.location.dropFirst(), message: $0.message, type: $0.type, context: $0.context) })
        }
        return JSONResponse.make(try cost(r, model: model))
    }

    private func cost(_ r: Txt2ImgRequest, model: ServedModel) throws -> JSONValue {
        let pipe = model.pipeline
        let calls = try r.kind.make(config: pipe.schedulerConfig, steps: r.steps).callCount
        let f = pipe.vaeScaleFactor
        let unitCost = UNetCost(config: pipe.models.unet.config, height: r.height / f, width: r.width / f)
        let full = AccelerationPlan.full(calls: calls)
        guard let text = r.plan else {
            return ["plan": "none", "summary": .string(full.summary), "caching_mac_ratio": 1.0, "pruning": "none", "calls": JSONValue(calls)]
        }
        let plan: AccelerationPlan
        do {
            plan = try PlanSpec(parsing: text, files: false).plan(calls: calls, steps: r.steps, units: pipe.models.unet.unitCount)
        } catch {
            throw APIError(issues: [ValidationIssue(location: ["query", "accel"], message: "\(error)", type: "value_error.plan")])
        }
        return ["plan": .string(plan.description), "summary": .string(plan.summary),
                "caching_mac_ratio": .double(unitCost.macs(plan: plan) / max(unitCost.macs(plan: full), 1)),
                "pruning": .string(plan.pruning.name == .none ? "none" : plan.pruning.description), "calls": JSONValue(calls)]
    }
}
