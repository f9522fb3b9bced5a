import ArgumentParser
import DatoSearch
import Foundation

/// `dato bench nsga2`: NSGA-II on ZDT1-3 over several seeds, hypervolumes against pymoo's (docs/methods/search.md).
struct BenchNSGA2: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nsga2",
        abstract: "Run NSGA-II on ZDT1-3 (pop 100, 250 generations) over seeds and compare hypervolumes with pymoo 0.6.2."
    )

    @Option(help: "Number of seeds (1...N).") var seeds = 10

    func validate() throws {
        try checkArguments { try ArgumentCheck.integer(seeds, "--seeds", in: 1...1000) }
    }

    func run() throws {
        print("ZDT   our HV mean (std)     min      pymoo mean  bound    pass")
        for kind in 1...3 {
            var hv: [Double] = []
            for seed in 1...max(1, seeds) {
                var s = NSGA2.Settings()
                s.populationSize = 100; s.generations = 250; s.seed = UInt64(seed)
                let pop = try NSGA2(settings: s).run(ZDTProblem(kind: kind))
                hv.append(Hypervolume.twoObjectives(pop.filter { $0.rank == 0 }.map(\.objectives), reference: (1.1, 1.1)))
            }
            let mean = hv.reduce(0, +) / Double(hv.count)
            let std = (hv.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(hv.count)).squareRoot()
            let pymoo = ZDTProblem.pymooMeanHypervolume[kind] ?? 0, bound = ZDTProblem.optimalHypervolume[kind] ?? 0
            let pass = mean >= pymoo - 0.002 && (hv.min() ?? 0) >= 0.98 * bound
            print(String(format: "ZDT%d  %.5f (%.5f)  %.5f  %.5f     %.5f  %@", kind, mean, std, hv.min() ?? 0, pymoo, bound, pass ? "yes" : "NO"))
        }
    }
}
