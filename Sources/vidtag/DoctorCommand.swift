import ArgumentParser
import Foundation
import Torch

/// `vidtag doctor`: what a user needs to file a bug, and a tiny forward + backward on every device.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check libtorch, threads and devices; run a tiny forward + backward on each device.")

    @Option(help: "Intra-op CPU threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Also print libtorch's build configuration.")
    var verbose = false

    @Option(help: "Also check that each model kind's forward on this device (cpu, cuda[:n]) gives the CPU's logits.")
    var device: String?

    func run() throws {
        print("vidtag \(vidtagVersion)")
        do {
            if let warning = try Runtime.checkVersion() { print("warning: \(warning)") }
        } catch {
            print("libtorch: FAILED: \(error)")
            throw ExitCode.failure
        }
        print("libtorch \(Runtime.torchVersion) (pinned \(Runtime.pinnedTorchVersion))")
        print("  loaded from \(Runtime.torchLibraryPath)")
        Runtime.threads = threads
        print("CPU threads: \(Runtime.threads) of \(ProcessInfo.processInfo.activeProcessorCount) cores; OpenMP: "
              + Runtime.openMPEnvironment.keys.sorted().map { "\($0)=\(ProcessInfo.processInfo.environment[$0] ?? "(unset)")" }.joined(separator: " "))
        let cuda = Runtime.cudaAvailable
        print("CUDA available: \(cuda ? "yes" : "no")")
        var devices: [Device] = [.cpu]
        if cuda {
            for index in 0..<Runtime.cudaDeviceCount {
                let name = (try? Runtime.cudaDeviceName(index)) ?? "unknown"
                print("  cuda:\(index): \(name)")
                devices.append(.cuda(index))
            }
            print("cuDNN: \(Runtime.cudnnVersion.map(String.init) ?? "absent")")
        }
        if verbose { print(Runtime.buildConfiguration) }

        var failures = 0
        for device in devices {
            do {
                let seconds = try Self.smokeTest(on: device)
                print("forward + backward on \(device): ok (\(String(format: "%.1f", seconds * 1000)) ms)")
            } catch {
                failures += 1
                print("forward + backward on \(device): FAILED: \(error)")
                print(device == .cpu
                      ? "  hint: rebuild the shim (scripts/build-shim.sh) and rerun scripts/setup.sh"
                      : "  hint: check the driver (nvidia-smi) and that the shim was built against this machine's CUDA libtorch (LIBTORCH=DIR scripts/build-shim.sh)")
            }
        }
        if let name = device {
            guard let device = Device(name: name) else { throw ValidationError("unknown device \(name): expected cpu or cuda[:n]") }
            for model in DeviceParityCheck.cases {
                do {
                    let difference = try DeviceParityCheck.relativeDifference(model, on: device)
                    let ok = difference <= DeviceParityCheck.tolerance
                    if !ok { failures += 1 }
                    print(String(format: "%@ on %@ against the CPU: %@ (largest difference %.2e of the largest logit, tolerance %.0e)",
                                 model.description, "\(device)", ok ? "ok" : "FAILED", difference, DeviceParityCheck.tolerance))
                } catch {
                    failures += 1
                    print("\(model) on \(device) against the CPU: FAILED: \(error)")
                }
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }

    /// A two-layer MLP step with a known gradient check: the loss must fall after one SGD step.
    static func smokeTest(on device: Device) throws -> Double {
        let start = Date()
        try Torch.catching {
            let store = ParameterStore(device: device, seed: 0)
            let first = Linear(store.root("fc1"), inputSize: 16, outputSize: 32)
            let second = Linear(store.root("fc2"), inputSize: 32, outputSize: 4)
            let generator = Generator(seed: 1)
            let inputs = Tensor.randn([8, 16], generator: generator).to(device)
            let labels = Tensor.randint(0, 4, [8], generator: generator).to(device)
            func loss() -> Tensor { second(first(inputs).gelu()).crossEntropy(labels) }
            let before = loss()
            before.backward()
            withNoGrad {
                for entry in store.trainable() { entry.tensor.sub_(entry.tensor.grad!, alpha: 0.1) }
            }
            let after = withNoGrad { loss() }.item()
            guard after < before.item() else {
                throw RuntimeError("loss did not fall after a gradient step (\(before.item()) → \(after))")
            }
            Runtime.synchronize(device)
        }
        return Date().timeIntervalSince(start)
    }
}
