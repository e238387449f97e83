import Foundation
import Testing
import Torch
import VidTagData
import VidTagDemo
@testable import VidTagTraining

/// What the training-run tests share: the tiny demo data set (built once per test run, lazily), a tiny
/// model's config, temporary folders and the built `vidtag` binary.
enum TrainingFixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The tiny demo build (200 labelled videos, 61 classes, empty clips and a corrupt frame included).
    /// Built once per test run, kept with its error: a test that needs it fails with the reason.
    static let demoBuild = Result { () throws -> URL in
        let root = temporaryFolder("train-demo")
        do {
            let material = try DemoMaterial.locate(searchStarts: [repository])
            try DemoDataBuilder(material: material, configuration: .tiny(seed: 11)).build(at: root)
        } catch {
            throw FixtureError("building the tiny demo data failed (is scripts/setup.sh's .deps/venv there?): \(error)")
        }
        return root
    }

    static var demoRoot: URL { get throws { try demoBuild.get() } }
    static var demo: DataRoot { get throws { DataRoot(url: try demoRoot) } }

    /// A vocabulary made once from the demo texts, so that each run does not rebuild it.
    static let vocabularyBuild = Result { () throws -> URL in
        let folder = temporaryFolder("train-vocab")
        var texts: [String] = []
        _ = try AnnotationReader(url: try demo.annotationsURL(split: "labeled"), labelSpace: nil, policy: .skip).forEach {
            texts += [$0.title, $0.asr, $0.ocrText]
        }
        try CorpusVocabulary.write(CorpusVocabulary.tokens(from: texts), to: folder.appendingPathComponent("vocab.txt"))
        return folder
    }

    static var vocabularyFolder: URL { get throws { try vocabularyBuild.get() } }

    /// The overrides of a tiny run: 1 layer, hidden 32, 2 heads, batch 16, 4 frames, short texts, one thread.
    static let tinyOverrides = [
        "seed=11", "model.layers=1", "model.hidden=32", "model.heads=2", "model.intermediate=64",
        "model.max_positions=64", "model.nextvlad_clusters=8", "model.nextvlad_groups=4", "model.nextvlad_output=32",
        "model.fusion_size=32", "data.max_frames=4", "data.title_tokens=12", "data.asr_tokens=12",
        "data.ocr_tokens=12", "data.workers=1", "data.prefetch_batches=2", "train.batch_size=16",
        "train.max_steps=8", "train.eval_every=4", "train.threads=1", "train.log_every=1000",
        "train.warmup_ratio=0.25",
    ]

    /// The tiny run's config with `extra` overrides applied after the tiny ones.
    static func tinyConfig(_ extra: [String] = []) throws -> RunConfig {
        try RunConfig.resolve(overrides: tinyOverrides + ["model.vocabulary=\(try vocabularyFolder.path)"] + extra)
    }

    static func session(_ config: RunConfig, run: URL, data: DataRoot? = nil) throws -> TrainingSession {
        TrainingSession(config: config, data: try data ?? demo, run: RunFolder(run))
    }

    static func temporaryFolder(_ name: String) -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("vidtag-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The `vidtag` executable beside the test bundle (the same build), else `.build/debug/vidtag`.
    static let vidtagBinary: URL? = {
        var candidates: [URL] = []
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        for ancestor in [bundle.deletingLastPathComponent(), bundle.deletingLastPathComponent().deletingLastPathComponent()] {
            candidates.append(ancestor.appendingPathComponent("vidtag"))
        }
        candidates.append(repository.appendingPathComponent(".build/debug/vidtag"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static let binaryMissing = "the vidtag binary was not found beside the test bundle nor at .build/debug/vidtag: "
        + "run `swift build` first"

    /// Runs `vidtag` with `arguments` to completion; returns its status and what it printed.
    static func runVidtag(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let (process, pipe) = try startVidtag(arguments)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `vidtag arguments` started, its standard output and error in the pipe.
    static func startVidtag(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = try #require(vidtagBinary, Comment(rawValue: binaryMissing))
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return (process, pipe)
    }

    /// Starts `vidtag arguments`, sends it SIGTERM once the checkpoint at `checkpoint` has reached `step`, and
    /// waits: the exit status, how it ended, and what it printed. Nil status when it ended before the signal.
    static func runVidtagUntilSigterm(_ arguments: [String], checkpoint: URL, step: Int, within seconds: Double = 120)
        throws -> (status: Int32, reason: Process.TerminationReason, output: String, signalled: Bool)
    {
        let (process, pipe) = try startVidtag(arguments)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, process.isRunning {
            if let found = Checkpoint.latest(at: checkpoint), let state = try? Checkpoint.readState(from: found), state.step >= step {
                break
            }
            usleep(10_000)
        }
        let signalled = process.isRunning
        if signalled { kill(process.processIdentifier, SIGTERM) }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason, output, signalled)
    }

    /// The train losses of `metrics.jsonl` by step.
    static func trainLosses(_ run: URL) throws -> [Int: Double] {
        var losses: [Int: Double] = [:]
        for record in try MetricsLog.read(RunFolder(run).metricsURL) where record.kind == "train" {
            losses[record.step] = record.values["loss"]
        }
        return losses
    }

    static func maxAbsDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Double {
        var worst = 0.0
        for (key, tensor) in a {
            guard let other = b[key], other.shape == tensor.shape else { return .infinity }
            worst = max(worst, (tensor.to(.float64) - other.to(.float64)).abs().max().item())
        }
        return a.keys.sorted() == b.keys.sorted() ? worst : .infinity
    }
}

/// The tests that train: one at a time, since dropout and initialisation draw from libtorch's one global
/// generator, which a resumed run restores.
@Suite(.serialized) struct TrainingRunTests {}

/// A fixture that could not be made: the tests that need it fail with this message.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
