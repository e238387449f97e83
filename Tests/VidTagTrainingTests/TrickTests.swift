import Foundation
import Testing
import Torch
import VidTagData
@testable import VidTagTraining

/// Each training trick proven by what it does (issue: tricks).
@Suite struct TrickTests {
    /// A store with two parameters and gradients from a fixed loss.
    static func storeWithGradients(seed: UInt64 = 3) -> ParameterStore {
        let store = ParameterStore(seed: seed)
        let weight = store.root("embeddings")("word_embeddings").parameter("weight", shape: [5, 4], initializer: .normal(std: 1))
        let head = store.root("head").parameter("weight", shape: [4], initializer: .normal(std: 1))
        let loss = (weight.matmul(head).tanh() * Tensor([0.5, -1, 2, 0.1, 0.3] as [Float])).sum()
        loss.backward()
        return store
    }

    @Test func emaEqualsTheFormulaAfterSeveralSteps() throws {
        let store = ParameterStore(seed: 1)
        let weight = store.root.parameter("w", shape: [3], initializer: .zeros)
        let ema = ExponentialMovingAverage(store: store, decay: 0.9)
        var expected: [Double] = [0, 0, 0]
        for step in 1...5 {
            let values = [Double(step), -2 * Double(step), 0.5]
            withNoGrad { weight.copy_(Tensor(values.map(Float.init))) }
            ema.update()
            expected = zip(expected, values).map { 0.9 * $0 + 0.1 * $1 }
        }
        let averaged = ema.averages[0].toArray(Double.self)
        for (a, e) in zip(averaged, expected) { #expect(abs(a - e) < 1e-6) }
    }

    @Test func emaSwapRestoresTheRawWeightsBitForBitEvenOnError() throws {
        let store = Self.storeWithGradients()
        let ema = ExponentialMovingAverage(store: store, decay: 0.5)
        let before = store.all.map { $0.tensor.rawBytes() }
        withNoGrad { for entry in store.all { entry.tensor.add_(0.25) } }
        let raw = store.all.map { $0.tensor.rawBytes() }
        ema.update()
        let seen = ema.withAveragedWeights { store.all.map { $0.tensor.rawBytes() } }
        #expect(seen != raw, "inside the scope the model holds the averages")
        #expect(store.all.map { $0.tensor.rawBytes() } == raw)
        struct Boom: Error {}
        #expect(throws: Boom.self) { try ema.withAveragedWeights { throw Boom() } }
        #expect(store.all.map { $0.tensor.rawBytes() } == raw, "restored after an error too")
        #expect(before != raw)
    }

    @Test func fgmPerturbsByEpsilonAlongTheGradientAndIsUndoneExactly() throws {
        let store = Self.storeWithGradients()
        let key = "embeddings.word_embeddings.weight"
        let target = try AdversarialTarget(store: store, keys: [key])
        let tensor = store[key]!
        let gradient = tensor.grad!.clone()
        let original = tensor.detach().clone()
        let before = tensor.rawBytes()
        FGM(target: target, epsilon: 0.7).withPerturbation {
            let delta = tensor.detach() - original
            #expect(abs(delta.norm().item() - 0.7) < 1e-5, "perturbation norm is epsilon")
            let cosine = (delta * gradient).sum().item() / (delta.norm().item() * gradient.norm().item())
            #expect(abs(cosine - 1) < 1e-5, "perturbation points along the gradient")
        }
        #expect(tensor.rawBytes() == before, "weights restored bit for bit")
        #expect(store["head.weight"]!.grad != nil)
    }

    @Test func unknownAdversarialKeyIsAnErrorNamingIt() {
        let store = Self.storeWithGradients()
        #expect(throws: ConfigError.self) { try AdversarialTarget(store: store, keys: ["bert.nope.weight"]) }
        do {
            _ = try AdversarialTarget(store: store, keys: ["bert.nope.weight"])
        } catch {
            #expect("\(error)".contains("bert.nope.weight"))
        }
    }

    @Test func pgdStaysInsideItsBallAndRestores() throws {
        let store = Self.storeWithGradients()
        let key = "embeddings.word_embeddings.weight"
        let tensor = store[key]!
        let original = tensor.detach().clone()
        let before = tensor.rawBytes()
        let head = store["head.weight"]!
        let pgd = PGD(target: try AdversarialTarget(store: store, keys: [key]), epsilon: 0.3, alpha: 0.2, steps: 4)
        var norms: [Double] = []
        var lastSteps: [Bool] = []
        pgd.withPerturbations(parameters: store.all.map(\.tensor)) { lastStep in
            lastSteps.append(lastStep)
            norms.append((tensor.detach() - original).norm().item())
            (tensor.matmul(head).tanh() * Tensor([0.5, -1, 2, 0.1, 0.3] as [Float])).sum().backward()
        }
        #expect(norms.count == 4)
        #expect(lastSteps == [false, false, false, true], "only the last step's gradients are kept: the one a data-parallel step reduces")
        #expect(norms.allSatisfy { $0 <= 0.3 + 1e-5 }, "every step inside the ball: \(norms)")
        #expect(norms.last! > 0.29, "the ascent reaches the border after several steps of 0.2")
        #expect(tensor.rawBytes() == before)
    }

    @Test func rdropPassesDifferAndItsKLIsSymmetric() throws {
        Runtime.manualSeed(5)
        let x = Tensor.ones([4, 16])
        let first = x.dropout(0.5, train: true)
        let second = x.dropout(0.5, train: true)
        #expect(first.toArray(Float.self) != second.toArray(Float.self), "two passes draw different masks under one seed")
        let a = Tensor.randn([3, 5], generator: Generator(seed: 1))
        let b = Tensor.randn([3, 5], generator: Generator(seed: 2))
        let ab = RDrop.symmetricKL(a, b).item()
        let ba = RDrop.symmetricKL(b, a).item()
        #expect(abs(ab - ba) < 1e-6)
        #expect(ab > 0)
        #expect(abs(RDrop.symmetricKL(a, a).item()) < 1e-7)
        // By hand: ½ Σ (p − q)(log p − log q) / rows.
        let p = a.softmax(dim: -1), q = b.softmax(dim: -1)
        let manual = ((p - q) * (p.log() - q.log())).sum().item() / 3 * 0.5
        #expect(abs(ab - manual) < 1e-5)
    }

    @Test func classWeightsMatchHandValues() throws {
        let counts = [100, 25, 4, 0]
        let weights = try #require(ClassWeighting.power(alpha: 0.5).weights(counts: counts))
        // raw = [0.1, 0.2, 0.5, 0]; sample-weighted mean = (10 + 5 + 2) / 129
        let mean = 17.0 / 129
        for (w, raw) in zip(weights, [0.1, 0.2, 0.5, 0]) { #expect(abs(w - raw / mean) < 1e-12) }
        let exponential = try #require(ClassWeighting.exponential(alpha: 1).weights(counts: [10, 5]))
        let rawE = [exp(0.0), exp(0.5)]
        let meanE = (rawE[0] * 10 + rawE[1] * 5) / 15
        #expect(abs(exponential[0] - rawE[0] / meanE) < 1e-12)
        #expect(abs(exponential[1] - rawE[1] / meanE) < 1e-12)
        #expect(ClassWeighting.none.weights(counts: counts) == nil)
    }

    @Test func swaEqualsTheMeanOfTheSavedWeights() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-swa-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = ParameterStore(seed: 1)
        let weight = store.root.parameter("w", shape: [2, 2], initializer: .zeros)
        let snapshots = SnapshotSet(folder: folder)
        let values: [[Float]] = [[1, 2, 3, 4], [3, 2, 1, 0], [5, 5, 5, 5], [0, 0, 0, 8]]
        for (step, value) in values.enumerated() {
            withNoGrad { weight.copy_(Tensor(value, shape: [2, 2])) }
            try snapshots.add(store: store, step: step + 1, score: [0.5, 0.9, 0.1, 0.7][step], keep: 2)
        }
        let kept = try snapshots.entries()
        #expect(Set(kept.map(\.step)) == [2, 3, 4], "last 2 (3, 4) and best 2 (2, 4)")
        let last = try snapshots.average(SnapshotSet.last(2, of: kept))["w"]!.toArray(Float.self)
        #expect(last == [2.5, 2.5, 2.5, 6.5])
        let best = try snapshots.average(SnapshotSet.best(2, of: kept))["w"]!.toArray(Float.self)
        #expect(best == [1.5, 1, 0.5, 4])
    }

    @Test func ensembleOfIdenticalModelsEqualsOneModel() throws {
        let one = Predictions(ids: ["a", "b"], probabilities: [0.7, 0.2, 0.1, 0.1, 0.3, 0.6], classes: 3, truth: [0, 2])
        for averaging in Ensemble.Averaging.allCases {
            let three = try Ensemble.combine([one, one, one], weights: [1, 2, 3], averaging: averaging)
            for (x, y) in zip(three.probabilities, one.probabilities) { #expect(abs(x - y) < 1e-6) }
            #expect(three.predictedClasses == one.predictedClasses)
        }
        let other = Predictions(ids: ["a", "b"], probabilities: [0.1, 0.8, 0.1, 0.2, 0.2, 0.6], classes: 3, truth: [0, 2])
        let mixed = try Ensemble.combine([one, other], weights: [3, 1])
        #expect(abs(mixed.probabilities[0] - (0.75 * 0.7 + 0.25 * 0.1)) < 1e-6)
        #expect(throws: ConfigError.self) {
            try Ensemble.combine([one, Predictions(ids: ["b", "a"], probabilities: one.probabilities, classes: 3)])
        }
    }

    @Test("tuned ensemble weights move toward the member that is right, sum to 1, and never score below equal weights")
    func ensembleWeightsTuneTowardTheBetterMember() throws {
        let labels = try LabelSpace(level2Ids: ["0100", "0101", "0200"])
        let truth: [Int32] = [0, 1, 2, 0, 1, 2, 0, 1]
        let ids = truth.indices.map { "v\($0)" }
        // `right` puts 0.6 on the true class; `wrong` puts 0.9 on the next class: equal weights follow `wrong`.
        func rows(_ shift: Int, _ peak: Float) -> [Float] {
            truth.flatMap { label -> [Float] in
                var row = [Float](repeating: (1 - peak) / 2, count: 3)
                row[(Int(label) + shift) % 3] = peak
                return row
            }
        }
        let right = Predictions(ids: ids, probabilities: rows(0, 0.6), classes: 3, truth: truth)
        let wrong = Predictions(ids: ids, probabilities: rows(1, 0.9), classes: 3, truth: truth)
        let tuned = try EnsembleWeights.tune([wrong, right], labels: labels)
        #expect(abs(tuned.weights.reduce(0, +) - 1) < 1e-9)
        #expect(tuned.weights[1] > tuned.weights[0], "weights \(tuned.weights)")
        #expect(tuned.scoreAfter == 1 && tuned.scoreBefore < tuned.scoreAfter)
        let equal = try EnsembleWeights.tune([right, right], labels: labels)
        #expect(equal.weights == [0.5, 0.5], "no gain, no move: \(equal.weights)")
        #expect(zip(EnsembleWeights.setting([0.5, 0.25, 0.25], 0, to: 0.8), [0.8, 0.1, 0.1]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(throws: ConfigError.self) { try EnsembleWeights.tune([right], labels: labels) }
    }

    @Test func smallClassBoostRescalesAndTunesOnOutOfFold() throws {
        let boost = SmallClassBoost(beta: 1, counts: [100, 10])
        let boosted = boost.apply(to: Predictions(ids: ["a"], probabilities: [0.8, 0.2], classes: 2))
        // factors [1, 10]: 0.8 : 2.0 → 0.2857, 0.7143
        #expect(abs(boosted.probabilities[0] - 0.8 / 2.8) < 1e-6)
        #expect(SmallClassBoost(beta: 0, counts: [100, 10]).factors == [1, 1])
        let labels = try LabelSpace(level2Ids: ["0100", "0101"])
        // The small class is always under-predicted: a positive beta must fix it.
        let outOfFold = Predictions(ids: ["a", "b", "c", "d"], probabilities: [0.9, 0.1, 0.6, 0.4, 0.55, 0.45, 0.3, 0.7],
                                    classes: 2, truth: [0, 1, 1, 1])
        let tuned = try SmallClassBoost.tune(outOfFold: outOfFold, counts: [3, 1], labelSpace: labels)
        #expect(tuned.beta > 0)
        #expect(tuned.scoreAfter! > tuned.scoreBefore!)
    }
}
