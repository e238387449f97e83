import Foundation
import Testing

@testable import Torch

/// One differentiable function of float64 inputs, checked against central finite differences.
struct GradientCase: Sendable, CustomTestStringConvertible {
    enum Domain: Sendable {
        /// Standard normal values.
        case real
        /// Values in [0.5, 1.5) (for log, sqrt, pow, division).
        case positive
    }

    let name: String
    let shapes: [[Int]]
    let domain: Domain
    let function: @Sendable ([Tensor]) -> Tensor

    init(_ name: String, _ shapes: [[Int]], _ domain: Domain = .real, _ function: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.name = name
        self.shapes = shapes
        self.domain = domain
        self.function = function
    }

    var testDescription: String { name }
}

/// Autograd's gradient of `sum(f(x) · W)` (W fixed random weights) against (L(x + h) − L(x − h)) / 2h for every
/// element of every input, in float64.
enum GradientChecker {
    static let step = 1e-6
    static let tolerance = 1e-5

    static func check(_ testCase: GradientCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Torch.catching {
            let generator = Generator(seed: 20_240_601)
            let inputs: [[Double]] = testCase.shapes.map { shape in
                let draw = testCase.domain == .real
                    ? Tensor.randn(shape, dtype: .float64, generator: generator)
                    : Tensor.rand(shape, dtype: .float64, generator: generator) + 0.5
                return draw.toArray(Double.self)
            }
            let leaves = zip(inputs, testCase.shapes).map { Tensor($0, shape: $1).requiringGrad() }
            let output = testCase.function(leaves)
            #expect(output.dtype == .float64, "\(testCase.name): output dtype", sourceLocation: sourceLocation)
            let weights = Tensor.randn(output.shape, dtype: .float64, generator: generator)
            (output * weights).sum().backward()

            func loss(_ values: [[Double]]) -> Double {
                withNoGrad {
                    let tensors = zip(values, testCase.shapes).map { Tensor($0, shape: $1) }
                    return (testCase.function(tensors) * weights).sum().item()
                }
            }

            for (inputIndex, leaf) in leaves.enumerated() {
                guard let grad = leaf.grad else {
                    Issue.record("\(testCase.name): input \(inputIndex) got no gradient", sourceLocation: sourceLocation)
                    continue
                }
                #expect(grad.shape == leaf.shape, "\(testCase.name): gradient shape", sourceLocation: sourceLocation)
                let analytic = grad.toArray(Double.self)
                var numeric = [Double](repeating: 0, count: analytic.count)
                for element in numeric.indices {
                    var plus = inputs
                    var minus = inputs
                    plus[inputIndex][element] += step
                    minus[inputIndex][element] -= step
                    numeric[element] = (loss(plus) - loss(minus)) / (2 * step)
                }
                expectClose(analytic, numeric, tolerance: tolerance, "\(testCase.name): d/d input \(inputIndex)",
                            sourceLocation: sourceLocation)
            }
        }
    }
}

@Suite("Gradients against central finite differences (float64)")
struct GradientTests {
    static let ids = Tensor([3, 0, 2, 3, 1, 4] as [Int64], shape: [2, 3])
    static let classTargets = Tensor([2, 0, -100, 4] as [Int64])
    static let classWeights = f64([0.5, 1, 2, 1.5, 0.25])
    static let attentionMask = Tensor([true, false, true, true, true, false, false, false, true], shape: [3, 3])
    static let gatherIndex = Tensor([2, 0, 1, 1, 0, 2] as [Int64], shape: [2, 3])
    static let selectIndex = Tensor([2, 0, 2] as [Int64])
    static let negativeMask = Tensor([true, false, false, true, false, true], shape: [2, 3])
    static let probabilities = f64([0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25, 0.7, 0.1, 0.1, 0.1], [3, 4])

    static let cases: [GradientCase] = [
        GradientCase("linear", [[3, 4], [2, 4], [2]]) { $0[0].linear(weight: $0[1], bias: $0[2]) },
        GradientCase("linear without bias", [[2, 3, 4], [5, 4]]) { $0[0].linear(weight: $0[1]) },
        GradientCase("matmul", [[2, 3], [3, 4]]) { $0[0].matmul($0[1]) },
        GradientCase("matmul broadcast", [[2, 2, 3], [3, 2]]) { $0[0].matmul($0[1]) },
        GradientCase("bmm", [[2, 2, 3], [2, 3, 2]]) { $0[0].bmm($0[1]) },
        GradientCase("add broadcast", [[2, 3], [3]]) { $0[0] + $0[1] },
        GradientCase("sub broadcast", [[2, 1], [1, 3]]) { $0[0] - $0[1] },
        GradientCase("mul broadcast", [[2, 3], [2, 1]]) { $0[0] * $0[1] },
        GradientCase("div broadcast", [[2, 3], [3]], .positive) { $0[0] / $0[1] },
        GradientCase("scalar arithmetic", [[4]], .positive) { (2.5 * $0[0] + 1) - 3.0 / $0[0] + (1.0 - $0[0]) * 0.5 },
        GradientCase("neg", [[4]]) { -$0[0] },
        GradientCase("exp", [[5]]) { $0[0].exp() },
        GradientCase("log", [[5]], .positive) { $0[0].log() },
        GradientCase("sqrt", [[5]], .positive) { $0[0].sqrt() },
        GradientCase("pow scalar", [[5]], .positive) { $0[0].pow(2.5) },
        GradientCase("pow tensor", [[5], [5]], .positive) { $0[0].pow($0[1]) },
        GradientCase("tanh", [[5]]) { $0[0].tanh() },
        GradientCase("sigmoid", [[5]]) { $0[0].sigmoid() },
        GradientCase("relu", [[6]]) { $0[0].relu() },
        GradientCase("gelu erf", [[6]]) { $0[0].gelu() },
        GradientCase("gelu tanh", [[6]]) { $0[0].gelu(approximate: true) },
        GradientCase("quick gelu", [[6]]) { $0[0].quickGelu() },
        GradientCase("softmax", [[2, 4]]) { $0[0].softmax(dim: 1) },
        GradientCase("logSoftmax", [[3, 2]]) { $0[0].logSoftmax(dim: 0) },
        GradientCase("layerNorm", [[2, 5], [5], [5]]) { $0[0].layerNorm([5], weight: $0[1], bias: $0[2]) },
        GradientCase("layerNorm without affine", [[3, 4]]) { $0[0].layerNorm([4], weight: nil, bias: nil) },
        GradientCase("embedding", [[5, 3]]) { $0[0].embeddingLookup(ids) },
        GradientCase("conv2d", [[1, 2, 4, 4], [3, 2, 3, 3], [3]]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], padding: (1, 1))
        },
        GradientCase("conv2d strided grouped", [[1, 4, 5, 5], [2, 2, 3, 3]]) {
            $0[0].conv2d(weight: $0[1], stride: (2, 2), groups: 2)
        },
        GradientCase("avgPool2d", [[1, 2, 4, 4]]) { $0[0].avgPool2d(kernel: (2, 2)) },
        GradientCase("maxPool2d", [[1, 2, 4, 4]]) { $0[0].maxPool2d(kernel: (2, 2)) },
        GradientCase("adaptiveAvgPool2d", [[1, 1, 5, 5]]) { $0[0].adaptiveAvgPool2d((2, 3)) },
        GradientCase("interpolate bilinear", [[1, 1, 3, 3]]) { $0[0].interpolate(size: (5, 4)) },
        GradientCase("interpolate nearest", [[1, 2, 2, 3]]) { $0[0].interpolate(size: (4, 5), mode: .nearest) },
        GradientCase("interpolate bicubic", [[1, 1, 3, 3]]) { $0[0].interpolate(size: (4, 4), mode: .bicubic) },
        GradientCase("scaledDotProductAttention bool mask", [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]) {
            scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: attentionMask)
        },
        GradientCase("crossEntropy weighted smoothed ignore", [[4, 5]]) {
            $0[0].crossEntropy(classTargets, weight: classWeights, labelSmoothing: 0.1)
        },
        GradientCase("crossEntropy sum", [[4, 5]]) { $0[0].crossEntropy(classTargets, reduction: .sum) },
        GradientCase("crossEntropy batchMean", [[4, 5]]) { $0[0].crossEntropy(classTargets, reduction: .batchMean) },
        GradientCase("crossEntropy probabilities", [[3, 4], [3, 4]]) {
            $0[0].crossEntropy($0[1].softmax(dim: 1), labelSmoothing: 0.05)
        },
        GradientCase("klDiv batchmean", [[3, 4], [3, 4]]) { $0[0].logSoftmax(dim: 1).klDiv($0[1].softmax(dim: 1)) },
        GradientCase("klDiv logTarget sum", [[3, 4]]) {
            $0[0].logSoftmax(dim: 1).klDiv(probabilities.log(), reduction: .sum, logTarget: true)
        },
        GradientCase("mseLoss", [[2, 3], [2, 3]]) { $0[0].mseLoss($0[1]) },
        GradientCase("binaryCrossEntropyWithLogits", [[2, 3]]) {
            $0[0].binaryCrossEntropyWithLogits(f64([0, 1, 0.5, 1, 0, 0.25], [2, 3]))
        },
        GradientCase("cosineSimilarity", [[3, 4], [3, 4]]) { $0[0].cosineSimilarity($0[1]) },
        GradientCase("normalized", [[3, 4]]) { $0[0].normalized() },
        GradientCase("sum", [[2, 3]]) { $0[0].sum() },
        GradientCase("sum dim keepDim", [[2, 3]]) { $0[0].sum(dim: 1, keepDim: true) },
        GradientCase("mean", [[2, 3]]) { $0[0].mean(dim: 0) },
        GradientCase("max all", [[2, 3]]) { $0[0].max() },
        GradientCase("max dims", [[3, 4]]) { $0[0].max(dims: [1]) },
        GradientCase("max dim values", [[3, 4]]) { $0[0].max(dim: 0).values },
        GradientCase("min", [[3, 4]]) { $0[0].min(dims: [0]) },
        GradientCase("variance", [[3, 4]]) { $0[0].variance(dims: [1]) },
        GradientCase("norm", [[3, 4]]) { $0[0].norm(dims: [1]) },
        GradientCase("logSumExp", [[3, 4]]) { $0[0].logSumExp(dims: [1]) },
        GradientCase("reshape", [[2, 6]]) { $0[0].reshape([3, 4]).exp() },
        GradientCase("permute", [[2, 3, 4]]) { $0[0].permute([2, 0, 1]).tanh() },
        GradientCase("transpose contiguous view", [[2, 3]]) { $0[0].transpose(0, 1).contiguous().view([6]) },
        GradientCase("expand", [[3, 1]]) { $0[0].expand([3, 4]) },
        GradientCase("cat", [[2, 3], [1, 3]]) { cat([$0[0], $0[1].tanh()]) },
        GradientCase("stack", [[2, 3], [2, 3]]) { stack([$0[0], $0[1]], dim: 1) },
        GradientCase("split", [[5, 2]]) { $0[0].split(sizes: [2, 3])[1] },
        GradientCase("slice", [[4, 5]]) { $0[0].slice(dim: 1, start: 1, end: 5, step: 2) },
        GradientCase("select", [[3, 4]]) { $0[0].select(dim: 1, index: 2) },
        GradientCase("squeeze unsqueeze", [[3, 1]]) { $0[0].squeeze(1).unsqueeze(0) },
        GradientCase("gather", [[2, 4]]) { $0[0].gather(dim: 1, index: gatherIndex) },
        GradientCase("indexSelect", [[3, 2]]) { $0[0].indexSelect(dim: 0, index: selectIndex) },
        GradientCase("maskedFill", [[2, 3]]) { $0[0].maskedFill(negativeMask, -2) },
        GradientCase("where", [[2, 3], [2, 3]]) { $0[0].where(negativeMask, else: $0[1]) },
        GradientCase("clamp", [[6]]) { $0[0].clamp(min: -0.5, max: 0.5) },
        GradientCase("dropout off", [[4]]) { $0[0].dropout(0.3, train: false) },
    ]

    @Test(arguments: cases)
    func gradientMatchesFiniteDifferences(_ testCase: GradientCase) throws {
        try GradientChecker.check(testCase)
    }

    @Test func theCheckerNoticesAWrongGradient() throws {
        // x · detach(x) has the value x² but autograd sees only one factor: gradient x instead of 2x.
        let wrong = GradientCase("x times detached x", [[3]]) { $0[0] * $0[0].detach() }
        withKnownIssue("autograd's x differs from the finite-difference 2x") {
            try GradientChecker.check(wrong)
        }
    }

    @Test func gradientsAccumulateUntilCleared() throws {
        try Torch.catching {
            let x = f64([1, 2, 3]).requiringGrad()
            #expect(x.requiresGrad)
            #expect(x.grad == nil)
            (x * x).sum().backward()
            expectValues(try #require(x.grad), [2, 4, 6])
            (x * 3).sum().backward()
            expectValues(try #require(x.grad), [5, 7, 9], "a second backward adds")
            x.zeroGrad()
            #expect(x.grad == nil)
            x.setGrad(f64([1, 1, 1]))
            expectValues(try #require(x.grad), [1, 1, 1])
        }
    }

    @Test func noGradScopesStopRecording() throws {
        try Torch.catching {
            let x = f64([1, 2]).requiringGrad()
            let inside = withNoGrad { x * 2 }
            #expect(!inside.requiresGrad)
            let nested = withNoGrad { withGrad { x * 2 } }
            #expect(nested.requiresGrad)
            #expect((x * 2).requiresGrad, "recording resumes after the scope")
            #expect(!(x * 2).detach().requiresGrad)
            struct Stop: Error {}
            #expect(throws: Stop.self) { try withNoGrad { throw Stop() } }
            #expect((x * 2).requiresGrad, "restored after an error")
        }
    }

    @Test func backwardWithAGradientAndRetainedGraph() throws {
        try Torch.catching {
            let x = f64([1, 2, 3]).requiringGrad()
            let y = x * x
            y.backward(gradient: f64([1, 0, 2]), retainGraph: true)
            expectValues(try #require(x.grad), [2, 0, 12])
            y.backward(gradient: f64([1, 1, 1]))
            expectValues(try #require(x.grad), [4, 4, 18])
        }
    }

    @Test func inPlaceUpdatesChangeTheSameTensor() throws {
        try Torch.catching {
            let p = f64([1, 2, 3]).requiringGrad()
            withNoGrad {
                p.add_(f64([1, 1, 1]), alpha: 2)
                p.sub_(f64([0.5, 0.5, 0.5]))
                p.mul_(f64([2, 2, 2]))
                p.div_(f64([4, 4, 4]))
                p.mul_(3)
                p.add_(-1)
            }
            expectValues(p, [(1 + 2 - 0.5) * 1.5 - 1, (2 + 2 - 0.5) * 1.5 - 1, (3 + 2 - 0.5) * 1.5 - 1])
            #expect(p.requiresGrad)
            withNoGrad { p.lerp_(f64([10, 10, 10]), weight: 0.5) }
            expectValues(p, [(2.75 + 10) / 2, (4.25 + 10) / 2, (5.75 + 10) / 2])
            withNoGrad { p.copy_(f64([7, 8, 9])) }
            expectValues(p, [7, 8, 9])
            withNoGrad { p.fill_(4) }
            expectValues(p, [4, 4, 4])
            withNoGrad { p.zero_() }
            expectValues(p, [0, 0, 0])

            let a = f64([0, 0])
            let b = f64([1, 1, 1])
            Tensor.lerp_([a, b], towards: [f64([10, 20]), f64([3, 3, 3])], weight: 0.1)
            expectValues(a, [1, 2])
            expectValues(b, [1.2, 1.2, 1.2])
        }
    }
}
