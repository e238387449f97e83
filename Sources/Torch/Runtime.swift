import CTorch
#if canImport(Glibc)
import Glibc
#endif

/// The libtorch this process runs on, and process-wide settings.
public enum Runtime {
    /// The libtorch version vidtag is built and tested against (scripts/setup.sh installs it).
    public static let pinnedTorchVersion = "2.13.0"
    /// The C API version this Swift engine was written for (shim/ctorch.h).
    public static let expectedShimVersion: Int32 = 2

    /// TORCH_VERSION of the libtorch the shim was built against, e.g. "2.13.0+cpu".
    public static var torchVersion: String { String(cString: ct_torch_version()) }
    /// The path libtorch_cpu was loaded from.
    public static var torchLibraryPath: String { String(cString: ct_torch_library_path()) }
    /// libtorch's build description (compiler, BLAS, CUDA, …).
    public static var buildConfiguration: String {
        guard let text = ct_build_config() else { return "" }
        defer { ct_string_free(text) }
        return String(cString: text)
    }

    /// Checks the shim and libtorch this process loaded. Throws when they cannot work with this binary;
    /// returns a warning when libtorch's version differs from the pinned one but is usable.
    @discardableResult
    public static func checkVersion() throws -> String? {
        let shim = ct_abi_version()
        guard shim == expectedShimVersion else {
            throw RuntimeError(
                "libctorch.so speaks C API version \(shim), this vidtag needs \(expectedShimVersion): "
                    + "rebuild the shim with scripts/build-shim.sh (LIBTORCH=DIR for another libtorch)")
        }
        let version = torchVersion
        let parts = version.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 2, parts[0] == 2, parts[1] >= 4 else {
            throw RuntimeError(
                "libtorch \(version) loaded from \(torchLibraryPath) is not supported: vidtag needs libtorch 2.4 or "
                    + "later (pinned: \(pinnedTorchVersion)). Run scripts/setup.sh, or point LIBTORCH=DIR at a "
                    + "libtorch 2.x and run scripts/build-shim.sh")
        }
        if !version.hasPrefix(pinnedTorchVersion) {
            return "libtorch \(version) (from \(torchLibraryPath)) differs from the pinned \(pinnedTorchVersion); "
                + "this is supported for 2.x but untested. To use the pinned one: unset LIBTORCH and run "
                + "scripts/build-shim.sh"
        }
        return nil
    }

    /// The OpenMP settings libtorch's thread pool runs under unless the environment sets them: a thread
    /// that finishes its share of a parallel region sleeps rather than spins (`OMP_WAIT_POLICY=PASSIVE`),
    /// so that the pool does not take the cores from the loader's workers or from another process.
    public static let openMPEnvironment = ["OMP_WAIT_POLICY": "PASSIVE"]

    /// Whether this process runs with every variable of `openMPEnvironment` set (by vidtag or by the user).
    public static var hasOpenMPEnvironment: Bool {
        openMPEnvironment.keys.allSatisfy { getenv($0) != nil }
    }

    /// libgomp reads its environment once, when it is loaded — before `main` runs — so a variable set later
    /// changes nothing. This re-executes the program (same executable, same arguments) with the variables
    /// of `openMPEnvironment` that are missing added; a variable the user set is kept. Returns when nothing
    /// is missing, or when the exec fails (the program then goes on with libgomp's defaults).
    public static func reexecWithOpenMPEnvironment() {
        guard !hasOpenMPEnvironment else { return }
        for (name, value) in openMPEnvironment where getenv(name) == nil { setenv(name, value, 0) }
        let arguments = CommandLine.unsafeArgv
        execv("/proc/self/exe", arguments)
    }

    /// glibc raises its mmap threshold each time a mapped block is freed (up to 32 MiB); blocks below the new
    /// threshold then come from the heap, which keeps freed space and fragments under a training loop's
    /// allocations of varying size. Pretraining at the Chinese BERT vocabulary grew from 0.44 to 1.8 GiB
    /// resident in 3 minutes that way, and peaked at 3.2 GiB over 3,906 steps; with the threshold fixed at
    /// 4 MiB the same run stayed between 0.37 and 0.74 GiB, and the demo training's speed did not change
    /// (wall ratio 1.007; at 1 MiB it took 1.7 times as long, mapping its activations afresh each step).
    /// docs/results/unlabelled-scale.md. Fixing it turns the adjustment off: blocks from `bytes` up are
    /// mapped, and unmapped when freed. Call it first thing in `main`.
    public static func fixMallocMmapThreshold(bytes: Int32 = 4 << 20) { ct_fix_mmap_threshold(bytes) }

    /// What a program that trains or serves with libtorch does first thing in `main`, so that `vidtag` and
    /// `vidtag-bench` run alike: the OpenMP environment (`reexecWithOpenMPEnvironment`, which may re-execute
    /// the program), then the fixed mmap threshold (`fixMallocMmapThreshold`).
    public static func prepareProcess() {
        reexecWithOpenMPEnvironment()
        fixMallocMmapThreshold()
    }

    /// Intra-op threads libtorch uses (always set explicitly: its default differs between builds).
    public static var threads: Int {
        get { Int(ct_get_num_threads()) }
        set { ct_set_num_threads(Int32(newValue)) }
    }

    /// How many times the calling thread has read tensor data on the host so far: `toArray`, `item`,
    /// `rawBytes` and ops whose output size depends on the data (`maskedSelect`). On a GPU each read waits
    /// for the device to drain its queue, so the training step makes none except where it needs the value.
    public static var hostReadCount: Int { Int(ct_host_read_count()) }

    /// Seeds libtorch's default generators on every device (dropout, default-generator draws).
    public static func manualSeed(_ seed: UInt64) { ct_manual_seed(seed) }

    public static var cudaAvailable: Bool { ct_cuda_is_available() }
    public static var cudaDeviceCount: Int { Int(ct_cuda_device_count()) }
    /// cuDNN's version (e.g. 91000), nil when there is none.
    public static var cudnnVersion: Int? {
        let version = ct_cudnn_version()
        return version > 0 ? Int(version) : nil
    }
    public static func cudaDeviceName(_ index: Int) throws -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if ct_cuda_device_name(Int32(index), &buffer, buffer.count) != 0 {
            throw TorchError(operation: "cudaDeviceName", message: String(cString: ct_last_error()))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    /// Waits for all work queued on a CUDA device (for timing).
    public static func synchronize(_ device: Device) {
        if case .cuda(let index) = device { perform("synchronize") { ct_cuda_synchronize(Int32(index)) } }
    }
}

/// A problem with the runtime (libraries, devices) that the user must fix.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
