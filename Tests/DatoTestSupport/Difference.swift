/// |a - b| for test comparisons, with NaN taken as infinity: `max` keeps its first argument when the other is
/// NaN, so a running maximum of plain differences would pass a result full of NaNs.
public func difference<T: FloatingPoint>(_ a: T, _ b: T) -> T {
    if a == b { return 0 }
    let d = abs(a - b)
    return d.isNaN ? .infinity : d
}
