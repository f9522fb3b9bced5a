import DatoAccel
@testable import DatoSearch
import XCTest

/// The search space holds a parsed pruning method and is checked against the loaded model's unit count.
final class PlanSpaceUnitsTests: XCTestCase {
    func testDepthValuesAreCheckedAgainstTheUNetsUnits() throws {
        var space = PlanSpace(kind: .depth, calls: 4, steps: 4)
        space.depthValues = [0, 1, 3, 12]
        XCTAssertNoThrow(try space.validate(units: 4))
        XCTAssertNoThrow(try space.validate(units: 12))
        space.depthValues = [0, 5, 12]
        XCTAssertThrowsError(try space.validate(units: 4)) { error in
            XCTAssertTrue("\(error)".contains("depth value 5: this model's UNet has 4 units; use 1...3"), "\(error)")
        }
        XCTAssertNoThrow(try space.validate(units: 6))
        var ratio = PlanSpace(kind: .ratio, calls: 3, steps: 3)
        ratio.fixedDepths = [12, 4, 12]
        XCTAssertThrowsError(try ratio.validate(units: 4)) { XCTAssertTrue("\($0)".contains("depth 4 of call 1"), "\($0)") }
    }

    func testRatioGenesDriveTheParsedMethod() throws {
        var space = PlanSpace(kind: .ratio, calls: 2, steps: 2)
        XCTAssertEqual(space.method, try PruningMethod(parsing: "dato"))
        space.method = try PruningMethod(parsing: "atedm,temporal,refresh=2")
        let plan = try space.plan([3, 5])
        XCTAssertEqual(plan.pruning, space.method)
        XCTAssertEqual(plan.description, "d:12*2;r:0.3,0.5;m:atedm,temporal,refresh=2")
    }
}
