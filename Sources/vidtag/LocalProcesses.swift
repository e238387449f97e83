import ArgumentParser
import Foundation
import Torch
import VidTagTraining

/// A command that can start copies of itself as local processes (`--nproc`): `vidtag train` and
/// `vidtag pretrain`. The run folder was checked or cleared before; the copies share the machine's cores.
protocol LaunchesLocalProcesses {
    var out: String { get }
    var overrides: [String] { get }
    /// Says how to continue a run that a signal stopped, and exits as the signal would have.
    func stopped(_ run: RunFolder) -> ExitCode
}

extension LaunchesLocalProcesses {
    /// The run's config: the run folder's own on --resume, else the defaults overlaid with --config and the
    /// overrides; and whether the run already in the folder is to be replaced (--force). Only the process that
    /// owns the folder refuses a run already there (a data-parallel rank > 0 writes under it).
    func resolveConfig(_ run: RunFolder, file: String?, overrides: [String], resume: Bool, force: Bool,
                       ownsFolder: Bool) throws -> (config: RunConfig, replacing: Bool) {
        let fresh = { try RunConfig.resolve(file: file.map { URL(fileURLWithPath: $0) }, overrides: overrides) }
        guard run.holdsRun, ownsFolder || resume else { return (try fresh(), false) }
        if resume { return (try RunConfig.resolve(file: run.configURL, overrides: overrides), false) }
        guard force else {
            throw ValidationError("\(out) already holds a run: pass --resume to continue it or --force to replace it")
        }
        return (try fresh(), true)
    }

    /// Starts `count` copies of this command as the ranks of one group; rank 0 prints, the others' standard
    /// output is dropped. Each gets an equal share of the cores unless train.threads is set.
    /// - work: what the ranks do together, for the message ("training", "pretraining").
    func launchLocalRanks(_ count: Int, run: RunFolder, work: String) throws {
        print("\(work) in \(count) processes (rank 0 writes \(out), the others \(out)/ranks/)")
        let launch = try LocalLaunch(executable: Self.executable, arguments: childArguments(sharingCoresWith: count),
                                     worldSize: count) { rank in
            (rank == 0 ? nil : FileHandle(forWritingAtPath: "/dev/null"), nil)
        }
        // A stop asked of this process (SIGTERM from a scheduler, `kill`) reaches every rank; the ranks agree
        // on the step to stop at and each writes its checkpoint.
        try waitForwardingStop(launch, count: count, run: run, what: "rank")
    }

    static var executable: URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }

    /// This command's arguments for the processes it starts: without --nproc and --force (the run folder was
    /// checked or cleared here), with an equal share of the cores each unless train.threads is set.
    func childArguments(sharingCoresWith count: Int) -> [String] {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let index = arguments.firstIndex(of: "--nproc") { arguments.removeSubrange(index...(index + 1)) }
        arguments.removeAll { $0.hasPrefix("--nproc=") || $0 == "--force" }
        if !overrides.contains(where: { $0.hasPrefix("train.threads=") }) {
            arguments += ["--set", "train.threads=\(max(1, ProcessInfo.processInfo.activeProcessorCount / count))"]
        }
        return arguments
    }

    /// Waits for every process of `launch`, passing a stop asked of this one on to them as SIGTERM. (Ctrl-C in
    /// a terminal reaches them too; SIGTERM after SIGINT still only asks them to stop.)
    func waitForwardingStop(_ launch: LocalLaunch, count: Int, run: RunFolder, what: String) throws {
        var forwarded = false
        while launch.isRunning {
            if StopSignal.requested && !forwarded {
                launch.signal(SIGTERM)
                forwarded = true
            }
            usleep(50_000)
        }
        let statuses = launch.wait()
        if StopSignal.requested { throw stopped(run) }
        if let failed = statuses.indices.first(where: { statuses[$0] != 0 }) {
            throw ValidationError("\(what) \(failed) of \(count) ended with status \(statuses[failed]) (its error is above)")
        }
    }

    /// Joins the process group of a data-parallel run — Gloo on the CPU, NCCL on CUDA (`train.device`) —
    /// as `launch`'s rank; a rank > 0 follows `run`, rank 0's folder.
    func joinGroup(_ launch: DistributedLaunch, config: RunConfig, run: RunFolder) throws -> DataParallelRank {
        let device = try Device(parsing: config.train.device, setting: "train.device")
        let group = try ProcessGroup(launch, backend: .for(device), timeout: .seconds(600))
        return DataParallelRank(group: group, localRank: launch.localRank, leader: launch.rank > 0 ? run : nil)
    }

    /// The folder a data-parallel rank writes: rank 0 the run folder, the others a scratch folder of their own
    /// under it (ranks/rank-N: their checkpoints make --resume exact with the same world size; with another
    /// world size every rank resumes from rank 0's).
    func rankFolder(_ launch: DistributedLaunch, of run: RunFolder) -> RunFolder {
        launch.rank == 0 ? run : RunFolder(run.url.appendingPathComponent("ranks/rank-\(launch.rank)"))
    }
}
