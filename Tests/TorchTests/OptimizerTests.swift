import Foundation
import Testing

@testable import Torch

/// The fixed problem of the AdamW fixture: mse(linear(tanh(linear(x, W1, b1)), W2), y), parameters in two
/// groups (encoder: lr 1e-2, weight decay 0.1; head: lr 5e-3, no decay).
struct AdamWProblem {
    let reference: TorchReference.AdamWReference
    let parameters: [String: Tensor]
    let x: Tensor
    let y: Tensor

    init() throws {
        let reference = try TorchReference.shared.adamw
        self.reference = reference
        var parameters: [String: Tensor] = [:]
        for (name, values) in reference.`init` {
            parameters[name] = Tensor(values.map(Float.init), shape: reference.shapes[name]!).requiringGrad()
        }
        self.parameters = parameters
        x = Tensor(reference.x.map(Float.init), shape: [5, 4])
        y = Tensor(reference.y.map(Float.init), shape: [5, 2])
    }

    func makeOptimizer(kernel: AdamW.Kernel? = nil) -> AdamW {
        let groups = reference.groups.map { group in
            AdamW.Group(name: group.name, parameters: group.keys.map { ($0, parameters[$0]!) },
                        learningRate: group.lr, weightDecay: group.weight_decay)
        }
        return AdamW(groups: groups, beta1: reference.betas[0], beta2: reference.betas[1], eps: reference.eps,
                     kernel: kernel)
    }

    /// Forward and backward; returns the loss.
    func lossAndGradients() -> Double {
        let hidden = x.linear(weight: parameters["encoder.weight"]!, bias: parameters["encoder.bias"]!).tanh()
        let loss = hidden.linear(weight: parameters["head.weight"]!).mseLoss(y)
        loss.backward()
        return loss.item()
    }

    func run(_ optimizer: AdamW, steps: Range<Int>, schedule: LearningRateSchedule? = nil) -> [Double] {
        steps.map { step in
            optimizer.zeroGrad()
            let loss = lossAndGradients()
            optimizer.step(learningRateScale: schedule?.multiplier(at: step) ?? 1)
            return loss
        }
    }

    func values() -> [String: [Double]] { parameters.mapValues { $0.toArray(Double.self) } }
}

@Suite("AdamW, gradient clipping and learning-rate schedules")
struct OptimizerTests {
    @Test(arguments: AdamW.Kernel.allCases)
    func adamWWithTwoGroupsEqualsTorchOptimAdamW(kernel: AdamW.Kernel) throws {
        try Torch.catching {
            let problem = try AdamWProblem()
            let optimizer = problem.makeOptimizer(kernel: kernel)
            for (step, expected) in problem.reference.constant.enumerated() {
                let loss = problem.run(optimizer, steps: step..<(step + 1))[0]
                #expect(Swift.abs(loss - expected.loss) <= 1e-6 * (1 + expected.loss), "step \(step + 1) loss")
                for (name, values) in problem.values() {
                    expectClose(values, expected.parameters[name]!, tolerance: 1e-6, "step \(step + 1) \(name)")
                }
            }
            #expect(optimizer.step == 5)
        }
    }

    @Test(arguments: AdamW.Kernel.allCases)
    func adamWFollowsACosineScheduleAsLambdaLR(kernel: AdamW.Kernel) throws {
        try Torch.catching {
            let problem = try AdamWProblem()
            let optimizer = problem.makeOptimizer(kernel: kernel)
            let schedule = LearningRateSchedule(warmupSteps: 2, totalSteps: 5, decay: .cosine)
            _ = problem.run(optimizer, steps: 0..<5, schedule: schedule)
            let expected = try #require(problem.reference.cosine_warmup_2_total_5.last)
            for (name, values) in problem.values() {
                expectClose(values, expected.parameters[name]!, tolerance: 1e-6, name)
            }
        }
    }

    @Test func multiTensorKernelsAreTheDefaultOnTheCPU() {
        #expect(AdamW.Kernel.preferred(for: .cpu) == .forEach)
        #expect(AdamW.Kernel.preferred(for: .cuda(0)) == .fused)
        #expect(AdamW(groups: []).kernel == .forEach)
    }

    /// The multi-tensor and fused kernels against the per-tensor loop over many steps of a problem with
    /// parameters of two dtypes, one without a gradient, and weight decay in one group only.
    @Test(arguments: [AdamW.Kernel.forEach, .fused])
    func multiTensorKernelsMatchThePerTensorLoop(kernel: AdamW.Kernel) throws {
        try Torch.catching {
            func makeParameters() -> [(name: String, tensor: Tensor)] {
                let generator = Generator(seed: 11)
                return [
                    ("a", Tensor.randn([7, 5], generator: generator)),
                    ("b", Tensor.randn([5], generator: generator)),
                    ("c", Tensor.randn([3, 2, 4], generator: generator).to(.float64)),
                    ("frozen", Tensor.randn([4], generator: generator)),
                ].map { ($0.0, $0.1.requiringGrad()) }
            }
            func train(_ kernel: AdamW.Kernel) -> [[Double]] {
                let parameters = makeParameters()
                let optimizer = AdamW(groups: [
                    AdamW.Group(name: "decay", parameters: Array(parameters.prefix(2)), learningRate: 3e-3, weightDecay: 0.05),
                    AdamW.Group(name: "plain", parameters: Array(parameters.suffix(2)), learningRate: 1e-2, weightDecay: 0),
                ], kernel: kernel)
                for step in 0..<20 {
                    optimizer.zeroGrad()
                    let generator = Generator(seed: UInt64(100 + step))
                    var loss = Tensor.zeros([], dtype: .float64)
                    for (name, tensor) in parameters where name != "frozen" {
                        let target = Tensor.randn(tensor.shape, generator: generator).to(tensor.dtype)
                        loss = loss + ((tensor - target).square() * tensor.tanh()).sum().to(.float64)
                    }
                    loss.backward()
                    optimizer.step(learningRateScale: 1 - Double(step) / 40)
                }
                return parameters.map { $0.tensor.toArray(Double.self) }
            }
            let reference = train(.perTensor)
            let candidate = train(kernel)
            for (index, (expected, actual)) in zip(reference, candidate).enumerated() {
                expectClose(actual, expected, tolerance: 1e-6, "\(kernel) parameter \(index)")
            }
            #expect(candidate[3] == makeParameters()[3].tensor.toArray(Double.self), "no gradient: untouched")
        }
    }

    @Test func savedStateContinuesIdentically() throws {
        try Torch.catching {
            let uninterrupted = try AdamWProblem()
            _ = uninterrupted.run(uninterrupted.makeOptimizer(), steps: 0..<5)

            let first = try AdamWProblem()
            let optimizer = first.makeOptimizer()
            _ = first.run(optimizer, steps: 0..<3)
            let (moments, step) = optimizer.stateDict()
            #expect(step == 3)
            #expect(Set(moments.keys) == ["exp_avg.encoder.weight", "exp_avg.encoder.bias", "exp_avg.head.weight",
                                          "exp_avg_sq.encoder.weight", "exp_avg_sq.encoder.bias", "exp_avg_sq.head.weight"])
            let folder = try TorchFixtureFiles.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let url = folder.appendingPathComponent("optimizer.safetensors")
            try SafeTensors.save(moments, to: url)
            try SafeTensors.save(first.parameters, to: folder.appendingPathComponent("model.safetensors"))

            let resumed = try AdamWProblem()
            let model = try SafeTensors.load(folder.appendingPathComponent("model.safetensors"))
            withNoGrad { for (name, tensor) in resumed.parameters { tensor.copy_(model[name]!) } }
            let restored = resumed.makeOptimizer()
            try restored.load(tensors: try SafeTensors.load(url), step: step)
            #expect(restored.step == 3)
            _ = resumed.run(restored, steps: 3..<5)
            #expect(resumed.values() == uninterrupted.values(), "bit-identical after a save and restore")
        }
    }

    @Test func loadingStateRejectsForeignKeysAndShapes() throws {
        try Torch.catching {
            let problem = try AdamWProblem()
            let optimizer = problem.makeOptimizer()
            let unexpected = try #require(throws: CheckpointLoadError.self) {
                try optimizer.load(tensors: ["momentum.encoder.bias": Tensor.zeros([3])], step: 1)
            }
            #expect(unexpected.problems == ["unexpected key momentum.encoder.bias"])
            let unknown = try #require(throws: CheckpointLoadError.self) {
                try optimizer.load(tensors: ["exp_avg.decoder.bias": Tensor.zeros([3])], step: 1)
            }
            #expect(unknown.problems.first?.contains("no parameter decoder.bias") == true)
            let shape = try #require(throws: CheckpointLoadError.self) {
                try optimizer.load(tensors: ["exp_avg_sq.encoder.weight": Tensor.zeros([4, 3])], step: 1)
            }
            #expect(shape.problems.first?.contains("parameter has shape [3, 4], state [4, 3]") == true)
            #expect(shape.description.contains("cannot load optimizer state"))
        }
    }

    @Test func parametersWithoutGradientsStayUntouched() throws {
        try Torch.catching {
            let used = f64([1, 2]).requiringGrad()
            let unused = f64([3, 4]).requiringGrad()
            let optimizer = AdamW(groups: [
                AdamW.Group(name: "all", parameters: [("used", used), ("unused", unused)], learningRate: 0.1, weightDecay: 0.5)
            ])
            (used * used).sum().backward()
            optimizer.step()
            #expect(unused.toArray(Double.self) == [3, 4], "no gradient: no step and no weight decay")
            // First step of Adam moves each element by lr (m̂ / √v̂ = ±1) after decoupled decay.
            expectValues(used, [1 * (1 - 0.1 * 0.5) - 0.1, 2 * (1 - 0.1 * 0.5) - 0.1], tolerance: 1e-6)
            #expect(optimizer.stateDict().tensors.keys.sorted() == ["exp_avg.used", "exp_avg_sq.used"])
            optimizer.zeroGrad()
            #expect(used.grad == nil)
        }
    }

    @Test(arguments: TorchReference.indices(\.clip_grad_norm))
    func clipGradNormEqualsPyTorch(caseIndex: Int) throws {
        let item = try TorchReference.shared.clip_grad_norm[caseIndex]
        try Torch.catching {
            let a = Tensor.zeros([3, 4]).requiringGrad()
            let b = Tensor.zeros([5]).requiringGrad()
            let withoutGradient = Tensor.zeros([2]).requiringGrad()
            a.setGrad(Tensor(item.grads[0].map(Float.init), shape: [3, 4]))
            b.setGrad(Tensor(item.grads[1].map(Float.init)))
            let total = clipGradNorm([a, withoutGradient, b], maxNorm: item.max_norm, normType: item.norm_type.value).item()
            #expect(Swift.abs(total - item.total_norm) <= 1e-5 * item.total_norm, "norm \(item.norm_type.value)")
            expectValues(try #require(a.grad), item.clipped[0], tolerance: 1e-6, "max_norm \(item.max_norm) a")
            expectValues(try #require(b.grad), item.clipped[1], tolerance: 1e-6, "max_norm \(item.max_norm) b")
            #expect(withoutGradient.grad == nil)
        }
    }

    @Test func clipGradNormWithoutGradientsIsZero() throws {
        try Torch.catching {
            #expect(clipGradNorm([Tensor.zeros([2]).requiringGrad()], maxNorm: 1).item() == 0)
        }
    }

    @Test(arguments: TorchReference.indices(\.schedules))
    func schedulesEqualHuggingFaces(caseIndex: Int) throws {
        let item = try TorchReference.shared.schedules[caseIndex]
        let decay = try #require(LearningRateSchedule.Decay(rawValue: item.decay))
        let schedule = LearningRateSchedule(warmupSteps: item.warmup, totalSteps: item.total, decay: decay)
        let values = item.steps.map { schedule.multiplier(at: $0) }
        expectClose(values, item.multipliers, tolerance: 1e-12, "\(item.decay) warm-up \(item.warmup) of \(item.total)")
    }

    @Test func schedulesAreCodable() throws {
        let schedule = LearningRateSchedule(warmupSteps: 10, totalSteps: 100, decay: .linear)
        let json = try JSONEncoder().encode(schedule)
        #expect(try JSONDecoder().decode(LearningRateSchedule.self, from: json) == schedule)
        #expect(String(decoding: json, as: UTF8.self).contains(#""decay":"linear""#))
    }
}
