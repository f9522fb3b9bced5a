// swift-tools-version:6.0
import Foundation
import PackageDescription

let package = Package(
    name: "swift-dato",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dato", targets: ["dato"]),
        .library(name: "DatoCore", targets: ["DatoCore"]),
        .library(name: "DatoModels", targets: ["DatoModels"]),
        .library(name: "DatoAccel", targets: ["DatoAccel"]),
        .library(name: "DatoPipeline", targets: ["DatoPipeline"]),
        .library(name: "DatoSearch", targets: ["DatoSearch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries from Debian: libdnnl-dev (oneDNN 2.6) and libopenblas-dev.
        .systemLibrary(name: "CDNNL", pkgConfig: nil, providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: nil, providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: nil, providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: nil, providers: [.apt(["libsqlite3-dev"])]),
        // A small C shim over oneDNN's C API that compiles against both the 2.x and the 3.x API.
        .target(name: "CDatoDNNL", dependencies: ["CDNNL"],
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        // Vectorised element-wise kernels (softmax, SiLU, GELU) that clang compiles well for AVX-512/AVX2.
        .target(name: "CDatoKernels", cSettings: [.unsafeFlags(["-O3", "-ffast-math", "-fno-finite-math-only", "-mprefer-vector-width=512"])]),
        // Attention on Intel AMX bf16 tiles (runtime-detected). Built without -ffast-math, so that its float
        // arithmetic runs as written.
        .target(name: "CDatoAMX", dependencies: ["CDatoKernels"], cSettings: [.unsafeFlags(["-O3"])]),
        // Compute core: tensors, oneDNN/BLAS glue, SIMD kernels, safetensors.
        .target(name: "DatoCore", dependencies: ["CDatoDNNL", "CDatoKernels", "CDatoAMX", "COpenBLAS"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // Networks (CLIP text encoder, UNet, VAE) with diffusers' module names, and weight loading.
        .target(name: "DatoModels", dependencies: ["DatoCore"]),
        // Acceleration policies (feature caching; token pruning later) behind the model's hooks; plans; FLOPs.
        .target(name: "DatoAccel", dependencies: ["DatoModels"]),
        // Text-to-image: tokenizer, schedulers, PyTorch-compatible noise, the pipeline, PNG output.
        .target(name: "DatoPipeline", dependencies: ["DatoModels", "DatoAccel", "CZlib"],
                resources: [.copy("Resources/bpe_simple_vocab_16e6.txt.gz"), .copy("Resources/LICENSE-open_clip.txt"),
                            .copy("Resources/demo-scorer"), .copy("Resources/demo-model")]),
        // Schedule search: NSGA-II (pymoo semantics), plan spaces, the SQLite journal, front reports.
        .target(name: "DatoSearch", dependencies: ["DatoAccel", "DatoPipeline", "CSQLite"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // Thin command-line interface.
        .executableTarget(name: "dato", dependencies: [
            "DatoCore", "DatoModels", "DatoAccel", "DatoPipeline", "DatoSearch", "CDNNL", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Helpers the test targets share.
        .target(name: "DatoTestSupport", path: "Tests/DatoTestSupport"),
        .testTarget(name: "DatoCoreTests", dependencies: ["DatoCore", "DatoTestSupport"]),
        .testTarget(name: "DatoModelsTests", dependencies: ["DatoModels", "DatoTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DatoAccelTests", dependencies: ["DatoAccel", "DatoPipeline", "DatoTestSupport"]),
        .testTarget(name: "DatoCLITests", dependencies: ["dato", "DatoCore", "DatoPipeline", "DatoSearch",
                                                        .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "DatoSearchTests", dependencies: ["DatoSearch", "DatoTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatoPipelineTests", dependencies: ["DatoPipeline", "CZlib", "DatoTestSupport"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)

// Fuzz targets (tools/fuzz/run.sh). Their code lives in Tests/DatoFuzzTests/Targets; `swift test` replays the seed
// corpus and every fixed crasher through it. With DATO_FUZZ=1 (set by tools/fuzz/run.sh, built in .build-fuzz with
// -sanitize=fuzzer,address) the same code becomes the `dato-fuzz` executable driven by libFuzzer instead.
let fuzzDependencies: [Target.Dependency] = ["DatoCore", "DatoModels", "DatoAccel", "DatoPipeline"]
if ProcessInfo.processInfo.environment["DATO_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CDatoFuzzDriver", path: "tools/fuzz/CDatoFuzzDriver"),
        .executableTarget(name: "dato-fuzz", dependencies: fuzzDependencies + ["CDatoFuzzDriver"],
                          path: "Tests/DatoFuzzTests", exclude: ["FuzzReplayTests.swift"]),
    ]
} else {
    package.targets.append(.testTarget(name: "DatoFuzzTests", dependencies: fuzzDependencies, exclude: ["Driver"]))
}
