// swift-tools-version: 6.1
// libFuzzer targets for vidtag's parsers of untrusted input. A package of its own so that the main
// package's `swift build --build-tests` never tries to link them (they need `-sanitize=fuzzer`, which
// provides `main`). Build and run them with scripts/fuzz.sh from the repository root; see fuzz/README.md.
import PackageDescription

/// One fuzz target: an executable whose only entry point is `LLVMFuzzerTestOneInput`.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name, dependencies: dependencies + ["FuzzSupport"], path: "Sources/\(name)",
        // libFuzzer supplies `main`; the module must not have top-level code.
        swiftSettings: [.unsafeFlags(["-parse-as-library"])])
}

let torch: Target.Dependency = .product(name: "Torch", package: "vidtag")
let data: Target.Dependency = .product(name: "VidTagData", package: "vidtag")
let training: Target.Dependency = .product(name: "VidTagTraining", package: "vidtag")

let package = Package(
    name: "vidtag-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "vidtag", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        fuzzTarget("fuzz-safetensors", [torch]),
        fuzzTarget("fuzz-npy", [data]),
        fuzzTarget("fuzz-feature-zip", [data]),
        fuzzTarget("fuzz-annotations", [data]),
        fuzzTarget("fuzz-jpeg-frame", [data]),
        fuzzTarget("fuzz-frame-zip", [data]),
        fuzzTarget("fuzz-config", [training]),
    ],
    swiftLanguageModes: [.v6]
)
