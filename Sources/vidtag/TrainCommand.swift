import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag train`: a data root and a config to a trained model folder.
struct TrainCommand: ParsableCommand, LaunchesLocalProcesses {
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
    @Option(help: """
        Train data-parallel in N local processes (Gloo on the CPU, NCCL on GPUs), train.batch_size split \
        between them; torchrun / Slurm launches (RANK, WORLD_SIZE, MASTER_ADDR, …) are joined without it. \
        With --folds K: K-fold folds side by side in N processes (one GPU each on CUDA).
        """)
    var nproc: Int?
    @Flag(help: "Continue the run in --out from its last checkpoint.") var resume = false
    @Flag(help: "Replace a run already in --out.") var force = false
    @OptionGroup var output: OutputOptions
    @Option(help: .hidden) var stopAfterStep: Int?
    /// A process of `--folds K --nproc N`: the folds it trains (INDEX/COUNT).
    @Option(help: .hidden) var foldShare: String?

    func run() throws {
        try Runtime.checkVersion()
        if folds != nil, try DistributedLaunch.fromEnvironment() != nil {
            throw ValidationError("--folds trains folds side by side with --nproc, not data-parallel: start it without "
                + "torchrun / Slurm rank variables")
        }
        let run = RunFolder(URL(fileURLWithPath: out))
        // In a data-parallel launch rank 0 owns the run folder: the others do not check or clear it; nor do the
        // processes of `--folds K --nproc N`, which their launcher checked or cleared.
        let rank = try DistributedLaunch.fromEnvironment()?.rank ?? 0
        let (config, replacing) = try resolveConfig(run, file: self.config, overrides: overrides, resume: resume, force: force,
                                                    ownsFolder: rank == 0 && foldShare == nil)
        let data = DataRoot(path: data)
        guard FileManager.default.fileExists(atPath: data.url.path) else {
            throw ValidationError("--data \(data.url.path): no such folder (a data root holds annotations/, zip_feats/, zip_frames/)")
        }
        if replacing { try FileManager.default.removeItem(at: run.url) }
        StopSignal.install()
        let console = TrainingConsole(output: output, logEvery: config.train.logEvery)
        if let nproc, nproc > 1, let folds, foldShare == nil {
            try launchFoldProcesses(nproc, folds: folds, run: run, onGPUs: config.train.device.hasPrefix("cuda"))
            var training = KFoldTraining(config: config, data: data, run: run, folds: folds)
            training.onEvent = console.handle
            guard let (score, _) = try training.train() else { throw stopped(run) }
            print("out-of-fold score of \(folds) folds: \(score.summary)")
            print("ensemble: vidtag predict --model \(run.url.path) (averages the \(folds) fold models)")
            return
        }
        if let nproc, nproc > 1, try DistributedLaunch.fromEnvironment() == nil {
            try launchLocalRanks(nproc, run: run, work: "training")
            return
        }
        if let launch = try DistributedLaunch.fromEnvironment() {
            try trainAsRank(launch, config: config, run: run, console: console)
            return
        }
        if let folds {
            var training = KFoldTraining(config: config, data: data, run: run, folds: folds)
            training.onEvent = console.handle
            training.shouldStop = { StopSignal.requested }
            if let foldShare {
                training.share = try FoldShare(parsing: foldShare)
                _ = try training.train()
                if StopSignal.requested { throw ExitCode(StopSignal.exitCode) }
                return
            }
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

extension TrainCommand {
    /// Trains the K folds in `count` independent processes side by side (fold k in process k % count), each
    /// with an equal share of the cores unless train.threads is set, on GPU k % count when training on CUDA.
    /// Process 0 prints; the out-of-fold score is assembled after all have finished.
    func launchFoldProcesses(_ count: Int, folds: Int, run: RunFolder, onGPUs: Bool) throws {
        var arguments = childArguments(sharingCoresWith: count) + ["--fold-share", "{rank}/\(count)"]
        if onGPUs { arguments += ["--set", "train.device=cuda:{rank}"] }
        print("training \(folds) folds in \(count) processes side by side (process p trains folds k with k mod \(count) = p)")
        let launch = try LocalLaunch(executable: Self.executable, arguments: arguments, worldSize: count,
                                     joinsGroup: false) { rank in
            (rank == 0 ? nil : FileHandle(forWritingAtPath: "/dev/null"), nil)
        }
        try waitForwardingStop(launch, count: count, run: run, what: "process")
    }

    /// One rank of a data-parallel run, in the folder `rankFolder` gives it.
    func trainAsRank(_ launch: DistributedLaunch, config: RunConfig, run: RunFolder, console: TrainingConsole) throws {
        var session = TrainingSession(config: config, data: DataRoot(path: data), run: rankFolder(launch, of: run))
        session.dataParallelRank = try joinGroup(launch, config: config, run: run)
        session.stopAfterStep = stopAfterStep
        if launch.rank == 0 { session.onEvent = console.handle }
        session.shouldStop = { StopSignal.requested }
        let outcome = try session.train()
        if StopSignal.requested { throw stopped(run) }
        guard launch.rank == 0 else { return }
        print("best score \(String(format: "%.4f", outcome.state.bestScore)) at step \(outcome.state.bestStep); "
            + "model in \(run.url.path) (\(launch.worldSize) processes)")
        print("curves: \(run.plotURL.path)")
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
