import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag pretrain`: self-supervised pretraining of a fusion model over any splits of a data root.
struct PretrainCommand: ParsableCommand, LaunchesLocalProcesses {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain a fusion model on the videos of some splits, without labels (MLM, MFM, ITM, ITC).",
        discussion: """
            The tasks and their weights are the pretrain.* keys (docs/config.md): masked language modelling, \
            masked frame modelling, video–text matching, and text–video contrast (dual-stream only). The run \
            folder is a model folder (config.json, model.safetensors with the pretraining heads, vocab.txt) with \
            checkpoint/ (for --resume) and metrics.jsonl (each task's loss too). Fine-tune it with
              vidtag train --data ROOT --out RUN --set model.init=FOLDER
            Defaults: `vidtag print-config`; override any key with --set, e.g. --set pretrain.mfm_weight=0.
            """)

    @Option(help: "Data root (annotations/, zip_feats/).") var data: String
    @Option(help: "Run folder to create.") var out: String
    @Option(help: "Splits read end to end, comma-separated (sets pretrain.splits; default unlabeled,labeled,test_a).")
    var splits: String?
    @Option(help: "JSON config file (keys as `vidtag print-config` shows).") var config: String?
    @Option(name: .customLong("set"), help: "Override a config key: --set pretrain.itm_weight=0 (repeatable).")
    var overrides: [String] = []
    @Option(help: """
        Pretrain data-parallel in N local processes (Gloo on the CPU, NCCL on GPUs), train.batch_size split \
        between them; torchrun / Slurm launches (RANK, WORLD_SIZE, MASTER_ADDR, …) are joined without it.
        """)
    var nproc: Int?
    @Flag(help: "Continue the run in --out from its last checkpoint.") var resume = false
    @Flag(help: "Replace a run already in --out.") var force = false
    @OptionGroup var output: OutputOptions
    @Option(help: .hidden) var stopAfterStep: Int?

    func run() throws {
        try Runtime.checkVersion()
        let run = RunFolder(URL(fileURLWithPath: out))
        var overrides = overrides
        if let splits { overrides.append("pretrain.splits=\(try Self.splitList(splits))") }
        // In a data-parallel launch rank 0 owns the run folder: the others do not check or clear it.
        let launch = try DistributedLaunch.fromEnvironment()
        let (config, replacing) = try resolveConfig(run, file: self.config, overrides: overrides, resume: resume, force: force,
                                                    ownsFolder: (launch?.rank ?? 0) == 0)
        let data = DataRoot(path: data)
        guard FileManager.default.fileExists(atPath: data.url.path) else {
            throw ValidationError("--data \(data.url.path): no such folder (a data root holds annotations/, zip_feats/)")
        }
        if replacing { try FileManager.default.removeItem(at: run.url) }
        StopSignal.install()
        if let nproc, nproc > 1, launch == nil {
            try launchLocalRanks(nproc, run: run, work: "pretraining")
            return
        }
        let console = TrainingConsole(output: output, logEvery: config.train.logEvery)
        var session = PretrainingSession(config: config, data: data, run: launch.map { rankFolder($0, of: run) } ?? run)
        if let launch { session.dataParallelRank = try joinGroup(launch, config: config, run: run) }
        if (launch?.rank ?? 0) == 0 { session.onEvent = console.handle }
        session.shouldStop = { StopSignal.requested }
        session.stopAfterStep = stopAfterStep
        let outcome = try session.pretrain()
        if StopSignal.requested { throw stopped(run) }
        guard !outcome.interrupted, (launch?.rank ?? 0) == 0 else { return }
        let processes = launch.map { " (\($0.worldSize) processes)" } ?? ""
        print("pretrained \(outcome.state.step) steps; model in \(run.url.path)\(processes)")
        print("fine-tune: vidtag train --data \(self.data) --out RUN --set model.init=\(run.url.path)")
    }

    func stopped(_ run: RunFolder) -> ExitCode {
        print("stopped by signal \(StopSignal.signal); the checkpoint in \(run.checkpointURL.path) is complete. Continue with:\n"
            + "  vidtag pretrain --data \(data) --out \(out) --resume")
        return ExitCode(StopSignal.exitCode)
    }

    /// `a,b,c` as the JSON list `--set` takes.
    static func splitList(_ text: String) throws -> String {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && !$0.contains("\"") }) else {
            throw ValidationError("--splits \(text): expected split names separated by commas, e.g. unlabeled,test_a")
        }
        return "[" + names.map { "\"\($0)\"" }.joined(separator: ",") + "]"
    }
}
