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
        .library(name: "DatoDigest", targets: ["DatoDigest"]),
        .library(name: "DatoImage", targets: ["DatoImage"]),
        .library(name: "DatoPipeline", targets: ["DatoPipeline"]),
        .library(name: "DatoEvaluation", targets: ["DatoEvaluation"]),
        .library(name: "DatoDemo", targets: ["DatoDemo"]),
        .library(name: "DatoSearch", targets: ["DatoSearch"]),
        .library(name: "DatoSearchPostgres", targets: ["DatoSearchPostgres"]),
        .library(name: "DatoServer", targets: ["DatoServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
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
        // SHA-256 and cached file digests (the model hash in PNG metadata, the search's model identity).
        .target(name: "DatoDigest", dependencies: ["DatoCore"]),
        // Images in and out: PNG reading (bounded inflate) and writing with text chunks, output file naming,
        // labelled image grids.
        .target(name: "DatoImage", dependencies: ["DatoCore", "CZlib"]),
        // Text-to-image: tokenizer (with the bundled CLIP vocabulary), schedulers, PyTorch-compatible noise,
        // the pipeline, generation parameters for PNG metadata.
        .target(name: "DatoPipeline", dependencies: ["DatoModels", "DatoAccel", "DatoDigest", "CZlib"],
                resources: [.copy("Resources/bpe_simple_vocab_16e6.txt.gz"), .copy("Resources/LICENSE-open_clip.txt")]),
        // Image quality: PSNR/SSIM/relative error against a reference, the prompt-alignment scorer.
        .target(name: "DatoEvaluation", dependencies: ["DatoModels"]),
        // The shipped demo model and its alignment scorer (resources, about 28 MB) and their locators.
        .target(name: "DatoDemo", dependencies: ["DatoPipeline", "DatoEvaluation"],
                resources: [.copy("Resources/demo-model"), .copy("Resources/demo-scorer")]),
        // Schedule search: NSGA-II (pymoo semantics), plan spaces, the SQLite journal, front reports.
        .target(name: "DatoSearch", dependencies: ["DatoAccel", "DatoPipeline", "DatoDigest", "DatoImage",
                                                   "DatoEvaluation", "DatoDemo", "CSQLite"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // The search journal on a PostgreSQL server (studies shared by a coordinator and workers on many machines).
        .target(name: "DatoSearchPostgres", dependencies: ["DatoSearch", .product(name: "PostgresNIO", package: "postgres-nio")]),
        // `dato serve`: the AUTOMATIC1111-compatible web API (/sdapi/v1), its job queue and the web page.
        .target(name: "DatoServer", dependencies: ["DatoAccel", "DatoPipeline", "DatoImage", "DatoDigest", "DatoDemo",
                                                   .product(name: "Hummingbird", package: "hummingbird")],
                resources: [.copy("Resources/web")]),
        // Thin command-line interface (and its option-value checks).
        .executableTarget(name: "dato", dependencies: [
            "DatoCore", "DatoModels", "DatoAccel", "DatoDigest", "DatoImage", "DatoPipeline", "DatoEvaluation",
            "DatoDemo", "DatoSearch", "DatoSearchPostgres", "DatoServer", "CDNNL", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Helpers the test targets share.
        .target(name: "DatoTestSupport", path: "Tests/DatoTestSupport"),
        .testTarget(name: "DatoCoreTests", dependencies: ["DatoCore", "DatoTestSupport"]),
        .testTarget(name: "DatoModelsTests", dependencies: ["DatoModels", "DatoTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DatoAccelTests", dependencies: ["DatoAccel", "DatoPipeline", "DatoTestSupport"]),
        .testTarget(name: "DatoCLITests", dependencies: ["dato", "DatoCore", "DatoPipeline", "DatoSearch", "DatoSearchPostgres",
                                                        "DatoServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "DatoServerTests", dependencies: ["DatoServer", "DatoPipeline", "DatoImage", "DatoDemo",
                                                        .product(name: "Hummingbird", package: "hummingbird"),
                                                        .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "DatoSearchTests", dependencies: ["DatoSearch", "DatoSearchPostgres", "DatoDigest", "DatoTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatoPipelineTests", dependencies: ["DatoPipeline", "DatoImage", "DatoDigest", "DatoEvaluation",
                                                         "DatoDemo", "CZlib", "DatoTestSupport"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)

// Fuzz targets (tools/fuzz/run.sh). Their code lives in Tests/DatoFuzzTests/Targets; `swift test` replays the seed
// corpus and every fixed crasher through it. With DATO_FUZZ=1 (set by tools/fuzz/run.sh, built in .build-fuzz with
// -sanitize=fuzzer,address) the same code becomes the `dato-fuzz` executable driven by libFuzzer instead.
let fuzzDependencies: [Target.Dependency] = ["DatoCore", "DatoModels", "DatoAccel", "DatoImage", "DatoPipeline"]
if ProcessInfo.processInfo.environment["DATO_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CDatoFuzzDriver", path: "tools/fuzz/CDatoFuzzDriver"),
        .executableTarget(name: "dato-fuzz", dependencies: fuzzDependencies + ["CDatoFuzzDriver"],
                          path: "Tests/DatoFuzzTests", exclude: ["FuzzReplayTests.swift"]),
    ]
} else {
    package.targets.append(.testTarget(name: "DatoFuzzTests", dependencies: fuzzDependencies, exclude: ["Driver"]))
}
