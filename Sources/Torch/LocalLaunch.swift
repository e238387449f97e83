import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// N processes of one program on this machine, started the way torchrun starts them: each with `RANK`,
/// `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR=127.0.0.1` and `MASTER_PORT` in its environment, so that
/// `ProcessGroup.fromEnvironment()` joins them into one group.
public final class LocalLaunch {
    /// The running processes, by rank.
    public let processes: [Process]
    public let masterPort: Int

    /// Starts `worldSize` copies of `executable`. `output(rank)` gives the handles rank `rank` writes its
    /// standard output and error to (nil inherits this process's).
    /// - arguments: the same for every process but that `{rank}` in them becomes the process's rank.
    /// - joinsGroup: false starts independent processes, without the rank variables (they form no process
    ///   group): K-fold folds trained side by side, say.
    public init(
        executable: URL, arguments: [String], worldSize: Int, masterPort: Int? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment, joinsGroup: Bool = true,
        output: (Int) -> (standardOutput: FileHandle?, standardError: FileHandle?) = { _ in (nil, nil) }
    ) throws {
        precondition(worldSize >= 1, "a launch needs at least one process")
        let port = try masterPort ?? LocalLaunch.freePort()
        var started: [Process] = []
        for rank in 0..<worldSize {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments.map { $0.replacingOccurrences(of: "{rank}", with: String(rank)) }
            var rankEnvironment = environment
            let variables = [
                "RANK": String(rank), "LOCAL_RANK": String(rank), "WORLD_SIZE": String(worldSize),
                "LOCAL_WORLD_SIZE": String(worldSize), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": String(port),
            ]
            for (name, value) in variables { rankEnvironment[name] = joinsGroup ? value : nil }
            process.environment = rankEnvironment
            let handles = output(rank)
            if let handle = handles.standardOutput { process.standardOutput = handle }
            if let handle = handles.standardError { process.standardError = handle }
            do {
                try process.run()
            } catch {
                for running in started { running.terminate() }
                throw RuntimeError("starting rank \(rank) (\(executable.path)) failed: \(error)")
            }
            started.append(process)
        }
        processes = started
        self.masterPort = port
    }

    /// Waits until every rank has ended and returns their exit statuses by rank. A rank still running
    /// `deadline` after this call is terminated (status 15): a guard against hangs, not a timeout of the
    /// collectives (the process group's own timeout ends those).
    public func wait(deadline: Duration? = nil) -> [Int32] {
        if let deadline {
            let end = ContinuousClock.now + deadline
            while processes.contains(where: \.isRunning) {
                if ContinuousClock.now >= end {
                    terminate()
                    break
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        for process in processes { process.waitUntilExit() }
        return processes.map(\.terminationStatus)
    }

    /// Ends every rank still running.
    public func terminate() {
        for process in processes where process.isRunning { process.terminate() }
    }

    /// Sends `number` (SIGTERM, SIGINT, …) to every rank still running.
    public func signal(_ number: Int32) {
        for process in processes where process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Whether some rank is still running.
    public var isRunning: Bool { processes.contains(where: \.isRunning) }

    /// A TCP port nothing listens on now (the kernel's pick for port 0 on the loopback interface).
    public static func freePort() throws -> Int {
        let socketHandle = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketHandle >= 0 else { throw RuntimeError("no free TCP port: socket() failed (errno \(errno))") }
        defer { close(socketHandle) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(socketHandle, socketAddress, length) == 0 && getsockname(socketHandle, socketAddress, &length) == 0
            }
        }
        guard bound else { throw RuntimeError("no free TCP port: bind() on 127.0.0.1 failed (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
