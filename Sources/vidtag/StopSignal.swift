import Foundation
@preconcurrency import Glibc

/// SIGTERM and SIGINT ask a long run to stop at the next step boundary, after a checkpoint (a preempted
/// cloud or Slurm job gets SIGTERM, then SIGKILL after a grace period). A second signal ends the process
/// at once.
enum StopSignal {
    nonisolated(unsafe) private static var received: Int32 = 0

    /// The signal that asked for a stop, 0 while none did.
    static var signal: Int32 { received }
    static var requested: Bool { received != 0 }

    static func install() {
        Glibc.signal(SIGTERM, stopSignalHandler)
        Glibc.signal(SIGINT, stopSignalHandler)
        // A launcher may start us with these blocked (the mask is inherited through exec): unblock them here,
        // before the loader's and libtorch's threads exist and inherit this thread's mask.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    fileprivate static func record(_ number: Int32) {
        received = number
        // The next one is not caught: a second Ctrl-C or SIGTERM ends the process.
        Glibc.signal(number, SIG_DFL)
    }

    /// The exit status of a run stopped by a signal (128 + the signal's number, as a shell reports it).
    static var exitCode: Int32 { 128 + received }
}

private func stopSignalHandler(_ number: Int32) {
    StopSignal.record(number)
}
