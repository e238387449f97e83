import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag train`: a data root and a config to a trained model folder.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a video classifier on a data root (WeChat layout).",
        discussion: """
            The run folder receives run_config.json, the model (config.json, model.safetensors, vocab.txt,
            labels.json), checkpoint/ (for --resume), metrics.jsonl, curves.svg and folds.json.
            Defaults: `vidtag print-config`; override any key with --set, e.g. --set train.epochs=5.
            """)

    @Option(help: "Data root (annotations/, zip_feats/, zip_frames/).") var data: String
    @Option(help: "Run folder to create.") var out: String
    @Option(help: "JSON config file (keys as `vidtag print-config` shows).") var config: String?
    @Option(name: .customLong("set"), help: "Override a config key: --set train.epochs=5 (repeatable).")
    var overrides: [String] = []
    @Option(help: "Train K models on K stratified folds (seed + k each) and score their out-of-fold predictions.")
    var folds: Int?
    @Flag(help: "Continue the run in --out from its last checkpoint.") var resume = false
    @Flag(help: "Replace a run already in --out.") var force = false
    @OptionGroup var output: OutputOptions
    @Option(help: .hidden) var stopAfterStep: Int?

    func run() throws {
        try Runtime.checkVersion()
        let run = RunFolder(URL(fileURLWithPath: out))
        let config: RunConfig
        var replacing = false
        if run.holdsRun {
            if resume {
                config = try RunConfig.resolve(file: run.configURL, overrides: overrides)
            } else if force {
                config = try RunConfig.resolve(file: self.config.map { URL(fileURLWithPath: $0) }, overrides: overrides)
                replacing = true
            } else {
                throw ValidationError("\(out) already holds a run: pass --resume to continue it or --force to replace it")
            }
        } else {
            config = try RunConfig.resolve(file: self.config.map { URL(fileURLWithPath: $0) }, overrides: overrides)
        }
        let data = DataRoot(path: data)
        guard FileManager.default.fileExists(atPath: data.url.path) else {
            throw ValidationError("--data \(data.url.path): no such folder (a data root holds annotations/, zip_feats/, zip_frames/)")
        }
        if replacing { try FileManager.default.removeItem(at: run.url) }
        StopSignal.install()
        let console = TrainingConsole(output: output, logEvery: config.train.logEvery)
        if let folds {
            var training = KFoldTraining(config: config, data: data, run: run, folds: folds)
            training.onEvent = console.handle
            training.shouldStop = { StopSignal.requested }
            guard let (score, _) = try training.train() else { throw stopped(run) }
            print("out-of-fold score of \(folds) folds: \(score.summary)")
            print("ensemble: vidtag predict --model \(run.url.path) (averages the \(folds) fold models)")
            return
        }
        var session = TrainingSession(config: config, data: data, run: run)
        session.onEvent = console.handle
        session.shouldStop = { StopSignal.requested }
        session.stopAfterStep = stopAfterStep
        let outcome = try session.train()
        if StopSignal.requested { throw stopped(run) }
        print("best score \(String(format: "%.4f", outcome.state.bestScore)) at step \(outcome.state.bestStep); model in \(run.url.path)")
        if !output.quiet { print("curves: \(run.plotURL.path)") }
    }

    /// Says how to continue a run that a signal stopped, and exits as the signal would have.
    func stopped(_ run: RunFolder) -> ExitCode {
        print("stopped by signal \(StopSignal.signal); the checkpoint in \(run.checkpointURL.path) is complete. Continue with:\n"
            + "  vidtag train --data \(data) --out \(out) --resume")
        return ExitCode(StopSignal.exitCode)
    }
}

/// `vidtag print-config`: the resolved configuration (defaults, a file, overrides).
struct PrintConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-config", abstract: "Print the training configuration with every default.")

    @Option(help: "JSON config file to apply.") var config: String?
    @Option(name: .customLong("set"), help: "Override a config key (repeatable).") var overrides: [String] = []

    func run() throws {
        print(try RunConfig.resolve(file: config.map { URL(fileURLWithPath: $0) }, overrides: overrides).jsonText())
    }
}
