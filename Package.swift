// swift-tools-version: 6.1
import PackageDescription
import Foundation

// libctorch.so (the C shim over libtorch) is built by scripts/build-shim.sh into .deps/lib.
// Binaries find it beside themselves ($ORIGIN) or in the project's .deps/lib.
let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let shimLibDirectory = "\(packageDirectory)/.deps/lib"
let linkShim: [LinkerSetting] = [
    .unsafeFlags([
        "-L\(shimLibDirectory)",
        "-Xlinker", "-rpath", "-Xlinker", "$ORIGIN",
        "-Xlinker", "-rpath", "-Xlinker", shimLibDirectory,
    ]),
    .linkedLibrary("m"),
]

let package = Package(
    name: "vidtag",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vidtag", targets: ["vidtag"]),
        .library(name: "Torch", targets: ["Torch"]),
        // Libraries for the fuzz targets in fuzz/ (a package of their own).
        .library(name: "VidTagData", targets: ["VidTagData"]),
        .library(name: "VidTagTraining", targets: ["VidTagTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CTorch", path: "Sources/CTorch"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .target(name: "Torch", dependencies: ["CTorch"], linkerSettings: linkShim),
        .target(
            name: "VidTagData",
            dependencies: ["CTurboJPEG", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "VidTagDemo", dependencies: ["VidTagData"]),
        .target(name: "VidTagModels", dependencies: ["Torch"]),
        .target(
            name: "VidTagTraining",
            dependencies: [
                "Torch", "VidTagData", "VidTagModels", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .target(
            name: "VidTagServer",
            dependencies: [
                "Torch", "VidTagData", "VidTagModels", "VidTagTraining",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "vidtag",
            dependencies: [
                "Torch", "VidTagData", "VidTagDemo", "VidTagModels", "VidTagTraining", "VidTagServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: linkShim),
        .executableTarget(
            name: "vidtag-bench",
            dependencies: [
                "Torch", "VidTagData", "VidTagModels", "VidTagTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench/swift",
            linkerSettings: linkShim),
        // One rank of the multi-process tests (Tests/TorchTests/DistributedTests.swift starts it N times).
        .executableTarget(
            name: "vidtag-dist-worker", dependencies: ["Torch", "VidTagTraining"], path: "Tests/DistributedWorker",
            linkerSettings: linkShim),
        .testTarget(name: "TorchTests", dependencies: ["Torch"], linkerSettings: linkShim),
        .testTarget(name: "VidTagDataTests", dependencies: ["VidTagData", "VidTagDemo"]),
        .testTarget(name: "VidTagModelsTests", dependencies: ["VidTagModels", "Torch"], linkerSettings: linkShim),
        .testTarget(
            name: "VidTagTrainingTests", dependencies: ["VidTagTraining", "VidTagData", "VidTagDemo", "VidTagModels", "Torch"],
            linkerSettings: linkShim),
        .testTarget(
            name: "VidTagServerTests",
            dependencies: [
                "VidTagServer", "VidTagTraining", "VidTagData", "VidTagDemo", "VidTagModels", "Torch",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            linkerSettings: linkShim),
    ],
    swiftLanguageModes: [.v6]
)
