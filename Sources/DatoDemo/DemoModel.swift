import DatoModels
import DatoPipeline
import Foundation

/// The demo model shipped inside the package (Resources/demo-model, trained by tools/demo-model/train.py):
/// a small text-to-image model with the SD 1.x architecture that draws one coloured shape on a plain
/// background at 64x64. Commands use it when no `--model` is given.
public enum DemoModel {
    /// The diffusers folder of the shipped demo model.
    public static func folder() throws -> String {
        guard let url = Bundle.module.url(forResource: "demo-model", withExtension: nil),
              FileManager.default.fileExists(atPath: url.appendingPathComponent("model_index.json").path) else {
            throw ModelError.layout(path: "Resources/demo-model", message: "the bundled demo model is missing; give --model")
        }
        return url.path
    }

    /// Loads the shipped demo model.
    public static func load() throws -> StableDiffusionPipeline {
        try StableDiffusionPipeline.load(path: try folder())
    }
}
