import DatoCore
@testable import DatoModels
import Foundation
import XCTest
import DatoTestSupport

/// Access to the fixtures written by tools/fixtures/make_fixtures.py.
enum Fixtures {
    static var root: String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path
    }

    static func path(_ parts: String...) -> String {
        ([root] + parts).joined(separator: "/")
    }

    static func io(_ model: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: path(model, "io.safetensors"))
    }
}

/// Asserts max |a - b| <= tol x max |b| (the criterion), reporting the figures.
func assertClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-4, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
    guard a.shape == b.shape else { return }
    var maxErr: Float = 0
    for i in 0..<a.count { maxErr = max(maxErr, difference(a[i], b[i])) }
    let scale = max(b.maxAbs, 1e-12)
    XCTAssertLessThanOrEqual(maxErr, tol * scale, "\(what): max abs error \(maxErr) vs max |ref| \(scale)",
                             file: file, line: line)
}
