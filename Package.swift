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
    ],
    targets: [
        .systemLibrary(name: "CTorch", path: "Sources/CTorch"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .target(name: "Torch", dependencies: ["CTorch"], linkerSettings: linkShim),
        .target(
            name: "VidTagData",
            dependencies: ["CTurboJPEG", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "VidTagModels", dependencies: ["Torch"]),
        .target(
            name: "VidTagTraining",
            dependencies: [
                "Torch", "VidTagData", "VidTagModels", .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .executableTarget(
            name: "vidtag",
            dependencies: [
                "Torch", "VidTagData", "VidTagModels", "VidTagTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
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
        .testTarget(name: "TorchTests", dependencies: ["Torch"], linkerSettings: linkShim),
        .testTarget(name: "VidTagDataTests", dependencies: ["VidTagData"]),
        .testTarget(name: "VidTagModelsTests", dependencies: ["VidTagModels", "Torch"], linkerSettings: linkShim),
        .testTarget(
            name: "VidTagTrainingTests", dependencies: ["VidTagTraining", "VidTagData", "VidTagModels", "Torch"],
            linkerSettings: linkShim),
    ],
    swiftLanguageModes: [.v6]
)
