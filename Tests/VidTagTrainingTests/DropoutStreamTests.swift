import Foundation
import Testing
import Torch
@testable import VidTagTraining

extension TrainingRunTests {
    /// A run's dropout draws from its own stream: runs taking turns in one process do not disturb each other.
    @Suite struct DropoutStreams {
        static func masks(_ stream: DropoutStream, count: Int) -> [[Float]] {
            (0..<count).map { _ in stream.withDefault { Tensor.ones([64]).dropout(0.5, train: true).toArray(Float.self) } }
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
    }
}
