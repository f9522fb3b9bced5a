import ArgumentParser
import DatoAccel

/// Runs the checks of option values (`ArgumentCheck`, the library's plan parsing) and reports what they throw as a
/// usage error, before any model is loaded.
func checkArguments(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ValidationError {
        throw error
    } catch let error as PlanError {
        throw ValidationError("--accel: \(error)")
    } catch {
        throw ValidationError("\(error)")
    }
}
