import DatoEvaluation
import Foundation

extension AlignmentScorer {
    /// The scorer shipped with the package (Resources/demo-scorer), trained for the demo model's images.
    public static func bundled() throws -> AlignmentScorer {
        guard let url = Bundle.module.url(forResource: "demo-scorer", withExtension: nil) else {
            throw ScorerError("the bundled demo-scorer resource is missing")
        }
        return try AlignmentScorer(folder: url.path)
    }
}
