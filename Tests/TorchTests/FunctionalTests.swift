import Foundation
import Testing

@testable import Torch

@Suite("Neural-network functions and losses")
struct FunctionalTests {
    let reference: TorchReference

    init() throws { reference = try TorchReference.shared }

    @Test func embeddingLooksUpRows() throws {
        try Torch.catching {
            let table = f64([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], [4, 2])
            let ids = Tensor([3, 0, 1, 1] as [Int64], shape: [2, 2])
            expectValues(table.embeddingLookup(ids), [3, 3.5, 0, 0.5, 1, 1.5, 1, 1.5], shape: [2, 2, 2])
            expectValues(table.embeddingLookup(ids, paddingIndex: 0), [3, 3.5, 0, 0.5, 1, 1.5, 1, 1.5],
                         "the padding row is read as stored")
        }
    }

    @Test func embeddingPaddingRowGetsNoGradient() throws {
        try Torch.catching {
            let table = f64([0, 0.5, 1, 1.5, 2, 2.5], [3, 2]).requiringGrad()
            let ids = Tensor([0, 2, 0, 1] as [Int64])
            table.embeddingLookup(ids, paddingIndex: 0).sum().backward()
            let grad = try #require(table.grad)
            expectValues(grad, [0, 0, 1, 1, 1, 1])
            table.zeroGrad()
            table.embeddingLookup(ids).sum().backward()
            expectValues(try #require(table.grad), [2, 2, 1, 1, 1, 1], "without padding each use counts")
        }
    }

    @Test func layerNormMatchesTheFormula() throws {
        let rows: [[Double]] = [[1, 2, 3, 6], [-1, 0, 0, 5]]
        let weight: [Double] = [1, 0.5, 2, -1]
        let bias: [Double] = [0, 1, -1, 0.25]
        let eps = 1e-5
        var expected: [Double] = []
        var plain: [Double] = []
        for row in rows {
            let mean = row.reduce(0, +) / 4
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
            for (index, value) in row.enumerated() {
                let normalized = (value - mean) / (variance + eps).squareRoot()
                plain.append(normalized)
                expected.append(normalized * weight[index] + bias[index])
            }
        }
        try Torch.catching {
            let x = f64(rows.flatMap { $0 }, [2, 4])
            expectValues(x.layerNorm([4], weight: f64(weight), bias: f64(bias), eps: eps), expected, shape: [2, 4])
            expectValues(x.layerNorm([4], weight: nil, bias: nil, eps: eps), plain)
            let whole = x.layerNorm([2, 4], weight: nil, bias: nil)
            expectValues(whole.mean(), [0], tolerance: 1e-12)
            expectValues(whole.variance(correction: 0), [1], tolerance: 1e-4)
        }
    }

    @Test func dropoutIsTheIdentityUnlessTraining() throws {
        try Torch.catching {
            let x = Tensor.ones([10_000])
            #expect(x.dropout(0.5, train: false) === x)
            #expect(x.dropout(0, train: true) === x)
            let dropped = x.dropout(0.25, train: true).toArray(Float.self)
            #expect(dropped.allSatisfy { $0 == 0 || $0 == Float(1 / 0.75) }, "kept values are scaled by 1 / (1 - p)")
            let zeros = dropped.filter { $0 == 0 }.count
            #expect((2_200...2_800).contains(zeros), "about a quarter dropped, got \(zeros)")
            let module = Dropout(0.5)
            #expect(module(x, train: false) === x)
            #expect(module(x, train: true).toArray(Float.self).contains(0))
        }
    }

    @Test func conv2dEqualsPyTorch() throws {
        let c = reference.convolution
        try Torch.catching {
            let x = f64(c.input, c.input_shape)
            let w = f64(c.weight, c.weight_shape)
            let b = f64(c.bias)
            expectValues(x.conv2d(weight: w, bias: b, padding: (1, 1)), c.stride1_pad1, shape: [1, 4, 5, 5],
                         tolerance: 1e-12, "stride 1, padding 1")
            expectValues(x.conv2d(weight: w, bias: b, stride: (2, 2)), c.stride2_pad0_dilation1, shape: [1, 4, 2, 2],
                         tolerance: 1e-12, "stride 2")
            expectValues(x.conv2d(weight: w, padding: (2, 2), dilation: (2, 2)), c.dilation2_pad2, shape: [1, 4, 5, 5],
                         tolerance: 1e-12, "dilation 2")
            expectValues(x.conv2d(weight: f64(c.grouped_weight, c.grouped_weight_shape), padding: (1, 1), groups: 2),
                         c.groups2, shape: [1, 4, 5, 5], tolerance: 1e-12, "groups 2")
        }
    }

    @Test func poolsAverageAndPickMaxima() throws {
        try Torch.catching {
            let x = Tensor.arange(16).to(.float64).reshape([1, 1, 4, 4])
            expectValues(x.avgPool2d(kernel: (2, 2)), [2.5, 4.5, 10.5, 12.5], shape: [1, 1, 2, 2])
            expectValues(x.maxPool2d(kernel: (2, 2)), [5, 7, 13, 15], shape: [1, 1, 2, 2])
            expectValues(x.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)), [5, 7, 13, 15],
                         shape: [1, 1, 2, 2])
            expectValues(x.avgPool2d(kernel: (2, 2), stride: (1, 1)), [2.5, 3.5, 4.5, 6.5, 7.5, 8.5, 10.5, 11.5, 12.5],
                         shape: [1, 1, 3, 3])
            expectValues(x.avgPool2d(kernel: (1, 4)), [1.5, 5.5, 9.5, 13.5], shape: [1, 1, 4, 1])
            expectValues(x.adaptiveAvgPool2d((1, 1)), [7.5], shape: [1, 1, 1, 1])
            expectValues(x.adaptiveAvgPool2d((2, 2)), [2.5, 4.5, 10.5, 12.5])
        }
    }

    @Test func interpolateEqualsPyTorch() throws {
        let r = reference.interpolation
        let modes: [String: InterpolationMode] = ["nearest": .nearest, "bilinear": .bilinear, "bicubic": .bicubic]
        try Torch.catching {
            let image = f64(r.input, r.input_shape)
            for item in r.cases {
                let mode = try #require(modes[item.mode])
                let out = image.interpolate(size: (r.size[0], r.size[1]), mode: mode, alignCorners: item.align_corners)
                expectValues(out, item.value, shape: [1, 1, 3, 5], tolerance: 1e-12,
                             "\(item.mode) align_corners \(item.align_corners)")
            }
            let large = f64(r.antialias_input, [1, 1, 8, 8])
            expectValues(large.interpolate(size: (3, 3), antialias: true), r.antialias_bilinear_3x3, tolerance: 1e-12,
                         "antialiased bilinear")
        }
    }

    @Test func attentionEqualsTheManualFormula() throws {
        try Torch.catching {
            let generator = Generator(seed: 17)
            let q = Tensor.randn([2, 2, 3, 4], dtype: .float64, generator: generator)
            let k = Tensor.randn([2, 2, 3, 4], dtype: .float64, generator: generator)
            let v = Tensor.randn([2, 2, 3, 4], dtype: .float64, generator: generator)
            let mask = Tensor([true, false, true, true, true, false, false, true, true], shape: [3, 3])

            func manual(_ mask: Tensor?, scale: Double = 0.5) -> Tensor {
                var scores = q.matmul(k.transpose(-2, -1)) * scale
                if let mask { scores = scores.maskedFill(mask.logicalNot(), -.infinity) }
                return scores.softmax(dim: -1).matmul(v)
            }
            let masked = scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
            #expect(masked.shape == [2, 2, 3, 4])
            expectValues(masked, manual(mask).toArray(Double.self), tolerance: 1e-12, "bool mask: true attends")
            expectValues(scaledDotProductAttention(query: q, key: k, value: v), manual(nil).toArray(Double.self),
                         tolerance: 1e-12, "no mask")
            let causal = Tensor.ones([3, 3], dtype: .bool).tril()
            expectValues(scaledDotProductAttention(query: q, key: k, value: v, isCausal: true),
                         manual(causal).toArray(Double.self), tolerance: 1e-12, "causal")
            expectValues(scaledDotProductAttention(query: q, key: k, value: v, scale: 0.1),
                         manual(nil, scale: 0.1).toArray(Double.self), tolerance: 1e-12, "explicit scale")
            let additive = f64([0, -1, 2, 0.5, 0, 0, -3, 1, 0], [3, 3])
            let expectedAdditive = (q.matmul(k.transpose(-2, -1)) * 0.5 + additive).softmax(dim: -1).matmul(v)
            expectValues(scaledDotProductAttention(query: q, key: k, value: v, mask: additive),
                         expectedAdditive.toArray(Double.self), tolerance: 1e-12, "a float mask is added")
        }
    }

    @Test func crossEntropyEqualsPyTorch() throws {
        let l = reference.losses
        let reductions: [String: Reduction] = ["mean": .mean, "sum": .sum, "none": .none]
        try Torch.catching {
            let logits = f64(l.logits, l.logits_shape)
            let weights = f64(l.class_weights)
            for item in l.cross_entropy {
                let target: Tensor
                switch item.target {
                case "indices": target = Tensor(l.targets)
                case "indices3": target = Tensor(l.targets_ignore_3)
                default: target = f64(l.probability_targets, l.logits_shape)
                }
                let loss = logits.crossEntropy(
                    target, weight: item.weighted ? weights : nil, reduction: try #require(reductions[item.reduction]),
                    ignoreIndex: item.ignore_index, labelSmoothing: item.label_smoothing)
                expectValues(loss, item.value, tolerance: 1e-12,
                             "\(item.target) \(item.reduction) weighted \(item.weighted) smoothing \(item.label_smoothing) ignore \(item.ignore_index)")
            }
        }
    }

    @Test func crossEntropyByHand() throws {
        try Torch.catching {
            let logits = f64([0, 0, Foundation.log(2.0), 1, 1, 1], [2, 3])
            let target = Tensor([2, 0] as [Int64])
            let first = -Foundation.log(0.5)
            let second = Foundation.log(3.0)
            expectValues(logits.crossEntropy(target), [(first + second) / 2])
            expectValues(logits.crossEntropy(target, reduction: .none), [first, second])
            expectValues(logits.crossEntropy(Tensor([2, -100] as [Int64])), [first], "ignored rows leave the mean")
            expectValues(logits.crossEntropy(Tensor([2, -100] as [Int64]), reduction: .batchMean), [first / 2],
                         "batchMean divides the sum by the batch size, ignored rows included")
            let weights = f64([3, 1, 1])
            expectValues(logits.crossEntropy(target, weight: weights), [(first + 3 * second) / 4],
                         "weighted mean divides by the weights of the targets")
        }
    }

    @Test func klDivergenceEqualsPyTorch() throws {
        let l = reference.losses
        let reductions: [String: Reduction] = ["batchmean": .batchMean, "mean": .mean, "sum": .sum, "none": .none]
        try Torch.catching {
            let logProbabilities = f64(l.logits, l.logits_shape).logSoftmax(dim: 1)
            let probabilities = f64(l.probability_targets, l.logits_shape)
            for item in l.kl_div {
                let target = item.log_target ? probabilities.log() : probabilities
                let loss = logProbabilities.klDiv(target, reduction: try #require(reductions[item.reduction]),
                                                  logTarget: item.log_target)
                expectValues(loss, item.value, tolerance: 1e-12, "\(item.reduction) log_target \(item.log_target)")
            }
            let same = probabilities.log().klDiv(probabilities)
            expectValues(same, [0], tolerance: 1e-12, "KL(p || p) = 0")
        }
    }

    @Test func regressionAndSimilarityByHand() throws {
        try Torch.catching {
            let a = f64([1, 2, 3, 4], [2, 2])
            let b = f64([1, 0, 5, 4], [2, 2])
            expectValues(a.mseLoss(b), [2])
            expectValues(a.mseLoss(b, reduction: .sum), [8])
            expectValues(a.mseLoss(b, reduction: .none), [0, 4, 4, 0])
            expectValues(a.mseLoss(b, reduction: .batchMean), [4], "sum over the batch size")

            let cosine = a.cosineSimilarity(b)
            expectValues(cosine, [1 / 5.0.squareRoot(), 31 / (5 * 41.0.squareRoot())], shape: [2])
            expectValues(a.cosineSimilarity(b, dim: 0), [16 / (10.0.squareRoot() * 26.0.squareRoot()), 16 / (20.0.squareRoot() * 4)])
            expectValues(a.cosineSimilarity(a * 3), [1, 1])

            let rows = f64([3, 4, 0, 0, 1, 0], [3, 2])
            expectValues(rows.normalized(), [0.6, 0.8, 0, 0, 1, 0], shape: [3, 2], "a zero row stays zero")
            expectValues(rows.normalized(p: 1), [3.0 / 7, 4.0 / 7, 0, 0, 1, 0])
            expectValues(rows.normalized(dim: 0), [3 / 10.0.squareRoot(), 1, 0, 0, 1 / 10.0.squareRoot(), 0])

            let logits = f64(reference.losses.logits, reference.losses.logits_shape)
            let targets = f64(reference.losses.probability_targets, reference.losses.logits_shape).sigmoid()
            expectValues(logits.binaryCrossEntropyWithLogits(targets), [reference.losses.bce_with_logits_mean],
                         tolerance: 1e-12)
            expectValues(logits.binaryCrossEntropyWithLogits(targets, reduction: .batchMean),
                         [reference.losses.bce_with_logits_mean * 5], tolerance: 1e-12, "20 elements over 4 rows")
        }
    }
}
