import DatoSearch
import XCTest

/// Settings a library caller may pass that used to hang or compute with NaN are refused up front.
final class NSGA2SettingsTests: XCTestCase {
    func testPopulationOfZeroIsRefusedInsteadOfHanging() {
        var s = NSGA2.Settings()
        s.populationSize = 0
        s.generations = 2
        XCTAssertThrowsError(try NSGA2(settings: s).run(ZDTProblem(kind: 1))) { error in
            XCTAssertTrue("\(error)".contains("population size 0"), "\(error)")
        }
    }

    func testOutOfRangeSettingsAreRefused() {
        var cases: [NSGA2.Settings] = []
        var s = NSGA2.Settings(); s.offspringCount = 0; cases.append(s)
        s = NSGA2.Settings(); s.generations = 0; cases.append(s)
        s = NSGA2.Settings(); s.crossoverProbability = .nan; cases.append(s)
        s = NSGA2.Settings(); s.mutationVariableProbability = 2; cases.append(s)
        s = NSGA2.Settings(); s.mutationEta = -.infinity; cases.append(s)
        for settings in cases {
            XCTAssertThrowsError(try settings.validate())
        }
        XCTAssertNoThrow(try NSGA2.Settings().validate())
    }
}
