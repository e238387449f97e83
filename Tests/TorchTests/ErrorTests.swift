import Foundation
import Testing

@testable import Torch

@Suite("libtorch failures become Swift errors")
struct ErrorTests {
    /// Runs `body` under `Torch.catching` and returns the error it throws (nil when none).
    func caught(_ body: () -> Void) -> TorchError? {
        do {
            try Torch.catching { body() }
            return nil
        } catch let error as TorchError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    @Test func shapeMismatchInMatmulCarriesLibtorchsMessage() throws {
        let error = try #require(caught { _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5])) })
        #expect(error.operation == "matmul")
        #expect(error.message.contains("shapes cannot be multiplied (2x3 and 4x5)"), "\(error.message)")
        #expect(!error.message.contains("Exception raised from"), "the C++ backtrace is cut off")
        #expect(error.description == "matmul: \(error.message)")
    }

    @Test(.enabled(if: !Runtime.cudaAvailable, "needs a machine without CUDA"))
    func aDeviceThisMachineLacksIsAnError() throws {
        let error = try #require(caught { _ = Tensor.zeros([2], device: .cuda(0)) })
        #expect(error.operation == "full")
        #expect(!error.message.isEmpty)
        let moved = try #require(caught { _ = Tensor.ones([2]).to(.cuda(0)) })
        #expect(moved.operation == "to")
        #expect(Runtime.cudaDeviceCount == 0)
        #expect(Runtime.cudnnVersion == nil)
        #expect(throws: TorchError.self) { _ = try Runtime.cudaDeviceName(0) }
    }

    @Test func anUnsupportedDtypeIsAnError() throws {
        let error = try #require(caught {
            let flags = Tensor([true, false, true, true], shape: [2, 2])
            _ = flags.matmul(flags)
        })
        #expect(error.operation == "matmul")
        #expect(error.message.contains("Bool"), "\(error.message)")
    }

    @Test func onlyTheFirstErrorIsReportedAndInvalidTensorsPropagate() throws {
        var results: [Tensor] = []
        let error = try #require(caught {
            let bad = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
            #expect(!bad.isValid)
            let later = (bad + 1).exp().softmax(dim: 0).reshape([6])
            let mixed = cat([bad, Tensor.ones([2, 2])])
            let second = Tensor.zeros([3]).view([7])
            results = [bad, later, mixed, second]
            #expect(!later.isValid && !mixed.isValid && !second.isValid)
            // Reading an invalid tensor is harmless.
            #expect(bad.shape == [] && bad.rank == 0)
            #expect(bad.description == "Tensor(invalid)")
            #expect(bad.toArray(Float.self) == [])
            #expect(bad.count == 0)
            #expect(bad.rawBytes() == [])
            #expect(bad.size(0) == 0)
            #expect(bad.chunk(2).allSatisfy { !$0.isValid })
            #expect(bad.split(size: 2).allSatisfy { !$0.isValid })
            #expect(!bad.requiresGrad && bad.grad == nil)
            _ = bad.item()
            bad.backward()
        })
        #expect(error.operation == "matmul", "the first failure wins, not \(error.operation)")
        #expect(error.message.contains("4x5"))
        #expect(results.count == 4)
    }

    @Test func aShapeThatDisagreesWithTheValuesIsAnError() throws {
        let error = try #require(caught { _ = Tensor([1, 2, 3] as [Float], shape: [2, 2]) })
        #expect(error.operation == "fromData")
        #expect(error.message.contains("needs 16 bytes, got 12"), "\(error.message)")
    }

    @Test func invalidHandlesAreNamedInTheMessage() throws {
        let error = try #require(caught {
            let invalid = Tensor(handle: nil)
            _ = invalid.exp()
        })
        #expect(error.operation == "exp")
        #expect(error.message.contains("invalid tensor"), "\(error.message)")
    }

    @Test func noErrorMeansNoThrowAndTheValueComesBack() throws {
        let value = try Torch.catching { Tensor([1, 2] as [Float]).sum().item() }
        #expect(value == 3)
    }

    @Test func swiftErrorsPassThroughAndScopesAreIndependent() throws {
        struct Marker: Error {}
        #expect(throws: Marker.self) { try Torch.catching { throw Marker() } }
        let outer = try #require(caught {
            let inner = caught { _ = Tensor.zeros([1]).view([2]) }
            #expect(inner?.operation == "view")
            _ = Tensor.zeros([2, 2]).bmm(Tensor.zeros([2, 2]))
        })
        #expect(outer.operation == "bmm", "the inner scope kept its own error")
        #expect(try Torch.catching { Tensor.ones([2]).sum().item() } == 2, "a new scope starts clean")
    }

    @Test func outsideAnyScopeAFailureStopsTheProcessWithTheMessage() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
        }
        let output = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(output.contains("libtorch error in matmul: mat1 and mat2 shapes cannot be multiplied"), "\(output)")
    }
}
