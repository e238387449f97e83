import Foundation

/// Training progress: a live bar with ETA, samples/s and loss on a terminal, plain lines otherwise.
final class ProgressReporter {
    public let total: Int
    private let interactive: Bool
    private let plainEvery: Int
    private let start = Date()
    private var startStep: Int
    private var lastDraw = Date.distantPast

    init(total: Int, startStep: Int = 0, plainEvery: Int = 20, interactive: Bool? = nil) {
        self.total = total
        self.startStep = startStep
        self.plainEvery = max(plainEvery, 1)
        self.interactive = interactive ?? (isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb")
    }

    /// Reports step `step` of `total` (1-based) with the recent loss and throughput.
    func update(step: Int, epoch: Int, loss: Double, samplesPerSecond: Double, learningRate: Double) {
        let elapsed = Date().timeIntervalSince(start)
        let done = step - startStep
        let remaining = done > 0 ? elapsed / Double(done) * Double(total - step) : 0
        let text = String(format: "epoch %d  step %d/%d  loss %.4f  lr %.2e  %.1f samples/s  ETA %@",
                          epoch + 1, step, total, loss, learningRate, samplesPerSecond, Self.duration(remaining))
        if interactive {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || step == total else { return }
            lastDraw = Date()
            let width = 24
            let filled = total > 0 ? min(width, width * step / total) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardOutput.write(Data("\r\u{1B}[K[\(bar)] \(text)".utf8))
        } else if step % plainEvery == 0 || step == total || step == startStep + 1 {
            print(text)
        }
    }

    /// Ends the live line before other output.
    func interrupt() {
        if interactive { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
