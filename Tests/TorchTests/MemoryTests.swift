import Foundation
import Testing

@testable import Torch

/// Resident memory of this process (VmRSS of /proc/self/status), in bytes.
func residentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return nil }
    let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first
    return kilobytes.map { $0 * 1024 }
}

@Suite("Tensor lifetime")
struct MemoryTests {
    /// Tensors from values, ops, views, autograd and failed operations, all dropped at once.
    static func churn(_ iterations: Int) {
        for index in 0..<iterations {
            let values = Tensor([Float(index), 1, 2, 3], shape: [2, 2])
            let sum = (values + 1).matmul(values.transpose(0, 1)).sum()
            precondition(sum.isValid)
            if index % 10 == 0 {
                let leaf = Tensor([1, 2] as [Float]).requiringGrad()
                (leaf * leaf).sum().backward()
                precondition(leaf.grad != nil)
            }
            if index % 100 == 0 {
                _ = try? Torch.catching { _ = values.view([3]).exp() }
            }
        }
    }

    /// Runs in a child process (an exit test) so that other tests running in parallel do not move its numbers.
    @Test func droppingTensorsKeepsResidentMemoryFlat() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            Runtime.threads = 1
            MemoryTests.churn(20_000)
            guard let before = residentBytes() else { exit(1) }
            MemoryTests.churn(100_000)
            guard let after = residentBytes() else { exit(1) }
            print("before \(before / 1024) kB, after \(after / 1024) kB")
        }
        let report = String(decoding: try #require(result).standardOutputContent, as: UTF8.self)
        let numbers = report.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        try #require(numbers.count == 2, "unexpected report: \(report)")
        let growthKilobytes = numbers[1] - numbers[0]
        #expect(growthKilobytes < 20 * 1024, "100,000 rounds of tensors grew resident memory: \(report)")
    }

    @Test func residentMemoryIsReadable() throws {
        let bytes = try #require(residentBytes())
        #expect(bytes > 1024 * 1024)
    }
}
