import Foundation
import Testing
import Torch
@testable import VidTagTraining

extension TrainingRunTests {
    /// A run's dropout draws from its own stream: runs taking turns in one process do not disturb each other.
    @Suite struct DropoutStreams {
        static func masks(_ stream: DropoutStream, count: Int) -> [[Float]] {
            (0..<count).map { _ in stream.withDropout { Tensor.ones([64]).dropout(0.5, train: true).toArray(Float.self) } }
        }

        @Test("interleaved streams draw what each draws alone; the default generator is left as it was")
        func interleavedStreamsAreIndependent() throws {
            try Torch.catching {
                let alone = Self.masks(DropoutStream(seed: 1, device: .cpu), count: 4)
                let other = Self.masks(DropoutStream(seed: 2, device: .cpu), count: 4)
                #expect(alone != other, "two seeds draw different masks")

                let before = Generator.defaultState.toArray(UInt8.self)
                let first = DropoutStream(seed: 1, device: .cpu)
                let second = DropoutStream(seed: 2, device: .cpu)
                var interleaved: [[Float]] = []
                for _ in 0..<4 {
                    interleaved += Self.masks(first, count: 1)
                    _ = Self.masks(second, count: 1)
                    _ = Tensor.ones([64]).dropout(0.5, train: true)  // someone else drawing from the default
                }
                #expect(interleaved == alone)
                let restored = DropoutStream(seed: 9, device: .cpu)
                restored.restore(first.state)
                #expect(Self.masks(restored, count: 1) == Self.masks(first, count: 1), "a saved state continues the stream")
                _ = before
            }
        }

        @Test("attention dropout draws from the stream too; its written-out math equals SDPA's")
        func attentionDropout() throws {
            try Torch.catching {
                let generator = Generator(seed: 3)
                let q = Tensor.randn([2, 2, 5, 4], generator: generator)
                let k = Tensor.randn([2, 2, 6, 4], generator: generator)
                let v = Tensor.randn([2, 2, 6, 4], generator: generator)
                let mask = Tensor([true, true, true, false, false, true] as [Bool], shape: [1, 1, 1, 6])
                func attend(_ stream: DropoutStream, _ p: Double) -> [Float] {
                    stream.withDropout {
                        scaledDotProductAttention(query: q, key: k, value: v, mask: mask, dropout: p).toArray(Float.self)
                    }
                }
                #expect(attend(DropoutStream(seed: 1, device: .cpu), 0.5) == attend(DropoutStream(seed: 1, device: .cpu), 0.5))
                #expect(attend(DropoutStream(seed: 1, device: .cpu), 0.5) != attend(DropoutStream(seed: 2, device: .cpu), 0.5))
                // A dropout too small to drop anything: the written-out path against the fused one, mask included.
                let written = attend(DropoutStream(seed: 1, device: .cpu), 1e-9)
                let fused = scaledDotProductAttention(query: q, key: k, value: v, mask: mask).toArray(Float.self)
                #expect(zip(written, fused).allSatisfy { abs($0 - $1) <= 1e-5 })
            }
        }
    }
}
