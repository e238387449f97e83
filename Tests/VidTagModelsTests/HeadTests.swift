import Testing
import Torch
@testable import VidTagModels

/// The classifier head: dropout then a linear layer, and with `samples` > 1 multi-sample dropout, which
/// averages the linear layer over `samples` dropout masks, each drawn anew.
@Suite struct HeadTests {
    /// A head with the weights its initializer draws from `seed`.
    static func head(samples: Int, dropout: Double, inputSize: Int = 8, classes: Int = 5, seed: UInt64 = 4) -> ClassifierHead {
        ClassifierHead(ParameterStore(seed: seed).root("classifier"), inputSize: inputSize, classes: classes,
                       dropout: dropout, samples: samples)
    }

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double { (a - b).abs().max().item() }

    /// Runs `body` with dropout drawing from a fresh stream seeded with `seed`: the thread's own generator, as
    /// the trainer's steps draw, so that tests running in parallel (which draw from libtorch's default
    /// generator) cannot move its masks.
    static func seeded<R>(_ seed: UInt64, _ body: () -> R) -> R {
        DropoutStream(seed: seed, device: .cpu).withDropout(body)
    }

    @Test("at evaluation the head is its linear layer, whatever the samples", arguments: [1, 4])
    func evaluationIsTheLinearLayer(samples: Int) {
        let head = Self.head(samples: samples, dropout: 0.5)
        let x = Tensor.randn([3, 8], generator: Generator(seed: 9))
        #expect(head.forward(x, train: false).rawBytes() == head.linear(x).rawBytes())
    }

    @Test("one sample in training is linear(dropout(x)) with the next mask of the generator")
    func oneSampleIsLinearOfDropout() {
        let head = Self.head(samples: 1, dropout: 0.3)
        let x = Tensor.randn([4, 8], generator: Generator(seed: 9))
        let output = Self.seeded(21) { head.forward(x, train: true) }
        let expected = Self.seeded(21) { head.linear(x.dropout(0.3, train: true)) }
        #expect(Self.maxAbsDifference(output, expected) <= 1e-6)
        #expect(Self.maxAbsDifference(output, head.linear(x)) > 1e-3, "dropout is active while training")
    }

    @Test("N samples in training are the mean of N linear(dropout(x)) over N successive masks, not N copies of one")
    func samplesAverageSuccessiveMasks() {
        let samples = 3
        let head = Self.head(samples: samples, dropout: 0.3)
        let x = Tensor.randn([4, 8], generator: Generator(seed: 9))
        let output = Self.seeded(21) { head.forward(x, train: true) }
        #expect(output.shape == [4, 5])
        // By hand: N draws one after the other from the same seed, summed and divided by N.
        let successive = Self.seeded(21) {
            var sum = head.linear(x.dropout(0.3, train: true))
            for _ in 1..<samples { sum = sum + head.linear(x.dropout(0.3, train: true)) }
            return sum / Double(samples)
        }
        #expect(Self.maxAbsDifference(output, successive) <= 1e-6)
        // The mean of N copies of the first mask is that one mask's output.
        let oneMask = Self.seeded(21) { head.linear(x.dropout(0.3, train: true)) }
        #expect(Self.maxAbsDifference(output, oneMask) > 1e-3, "each sample must draw its own mask")
    }

    /// Independent of where the generator stands: with an identity linear layer and an all-ones input, each
    /// output element is (number of masks that kept it) / (N (1 − p)). One shared mask would give only 0 or
    /// N; N independent masks give every count 0 … N, about binomially often.
    @Test("the kept-counts of N samples spread over 0 … N, as independent masks make them", arguments: [2, 4])
    func keptCountsShowIndependentMasks(samples: Int) {
        let width = 4096
        let dropout = 0.5
        let head = Self.head(samples: samples, dropout: dropout, inputSize: width, classes: width)
        withNoGrad {
            head.linear.weight.copy_(Tensor.arange(width).unsqueeze(1).eq(Tensor.arange(width).unsqueeze(0)).to(.float32))
            head.linear.bias!.zero_()
        }
        let output = head.forward(Tensor.ones([1, width]), train: true)
        let counts = output.toArray(Float.self).map { Double($0) * Double(samples) * (1 - dropout) }
        #expect(counts.allSatisfy { abs($0 - $0.rounded()) < 1e-4 && $0 >= -1e-4 && $0 <= Double(samples) + 1e-4 })
        var histogram = [Int](repeating: 0, count: samples + 1)
        for count in counts { histogram[Int(count.rounded())] += 1 }
        for kept in 0...samples {
            // Binomial(N, ½): expected width · C(N, k) / 2^N; ask for at least half of it.
            let expected = Double(width) * binomial(samples, kept) / pow2(samples)
            #expect(Double(histogram[kept]) >= expected / 2, "kept by \(kept) of \(samples) masks: \(histogram)")
        }
    }

    func binomial(_ n: Int, _ k: Int) -> Double {
        (0..<k).reduce(1.0) { $0 * Double(n - $1) / Double($1 + 1) }
    }

    func pow2(_ n: Int) -> Double { Double(1 << n) }
}
