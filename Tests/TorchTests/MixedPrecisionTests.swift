import Testing

@testable import Torch

@Suite("Autocast and gradient scaling")
struct MixedPrecisionTests {
    let a = Tensor.randn([4, 3], generator: Generator(seed: 1))
    let b = Tensor.randn([3, 2], generator: Generator(seed: 2))

    @Test func matmulUnderCPUAutocastComputesInBFloat16() throws {
        try Torch.catching {
            let inside = withAutocast(.cpu, dtype: .bfloat16) { a.matmul(b) }
            #expect(inside.dtype == .bfloat16)
            #expect(a.matmul(b).dtype == .float32, "outside the region f32 stays f32")
            expectClose(inside.toArray(Double.self), a.matmul(b).toArray(Double.self), tolerance: 3e-2,
                        "bf16 result near the f32 one")
            let linear = withAutocast(.cpu) { a.linear(weight: b.transpose(0, 1), bias: Tensor.zeros([2])) }
            #expect(linear.dtype == .bfloat16, "bf16 is the default autocast dtype")
            let disabled = withAutocast(.cpu, enabled: false) { a.matmul(b) }
            #expect(disabled.dtype == .float32)
        }
    }

    @Test func disabledRegionSwitchesAutocastOffInsideAnActiveOne() throws {
        try Torch.catching {
            withAutocast(.cpu) {
                withAutocast(.cpu, enabled: false) { #expect(a.matmul(b).dtype == .float32) }
                #expect(a.matmul(b).dtype == .bfloat16, "the enclosing region is back after the disabled one")
            }
        }
    }

    @Test func regionsNestAndRestoreEvenOnError() throws {
        try Torch.catching {
            withAutocast(.cpu) {
                withAutocast(.cpu) { #expect(a.matmul(b).dtype == .bfloat16) }
                #expect(a.matmul(b).dtype == .bfloat16, "the outer region is still active after the inner ends")
            }
            #expect(a.matmul(b).dtype == .float32)
            struct Abort: Error {}
            #expect(throws: Abort.self) {
                try withAutocast(.cpu) {
                    _ = a.matmul(b)
                    throw Abort()
                }
            }
            #expect(a.matmul(b).dtype == .float32, "an error leaves the region")
        }
    }

    @Test func gradientsOfF32ParametersStayF32UnderAutocast() throws {
        try Torch.catching {
            let weight = Tensor.randn([2, 3], generator: Generator(seed: 3)).requiringGrad()
            let loss = withAutocast(.cpu) { a.linear(weight: weight).to(.float32).square().mean() }
            loss.backward()
            let grad = try #require(weight.grad)
            #expect(grad.dtype == .float32)
            #expect(grad.shape == [2, 3])
        }
    }

    @Test func scalerSkipsAStepWithAnInfiniteGradientAndHalvesTheScale() throws {
        try Torch.catching {
            let scaler = GradScaler(initialScale: 1024)
            let p = Tensor([1, 2] as [Float]).requiringGrad()
            let q = Tensor([3] as [Float]).requiringGrad()
            p.setGrad(Tensor([1, .infinity] as [Float]))
            q.setGrad(Tensor([2048] as [Float]))
            #expect(!scaler.unscaleAndCheck([p, q]))
            #expect(scaler.scale == 512)
            #expect(scaler.skippedSteps == 1 && scaler.goodSteps == 0)

            p.setGrad(Tensor([1, .nan] as [Float]))
            #expect(!scaler.unscaleAndCheck([p]), "NaN counts as non-finite too")
            #expect(scaler.scale == 256)
        }
    }

    @Test func scalerUnscalesFiniteGradientsAndGrowsAfterTheInterval() throws {
        try Torch.catching {
            let scaler = GradScaler(initialScale: 8, growthInterval: 2)
            let p = Tensor([1, 2] as [Float]).requiringGrad()
            let withoutGradient = Tensor([5] as [Float]).requiringGrad()
            let loss = scaler.scaled((p * p).sum())
            expectValues(loss, [40])
            loss.backward()
            expectValues(try #require(p.grad), [16, 32])
            #expect(scaler.unscaleAndCheck([p, withoutGradient]))
            expectValues(try #require(p.grad), [2, 4], "divided by the scale")
            #expect(withoutGradient.grad == nil)
            #expect(scaler.scale == 8 && scaler.goodSteps == 1)
            #expect(scaler.unscaleAndCheck([p]))
            #expect(scaler.scale == 16 && scaler.goodSteps == 0, "doubles after growthInterval good steps")
            #expect(scaler.unscaleAndCheck([withoutGradient]), "nothing to check is fine")
        }
    }

    @Test func scalerStateRestores() {
        let scaler = GradScaler(initialScale: 4, growthInterval: 10)
        scaler.update(finite: true)
        scaler.update(finite: false)
        scaler.update(finite: true)
        #expect(scaler.state == ["scale": 2, "good_steps": 1, "skipped_steps": 1])
        let restored = GradScaler(initialScale: 65536, growthInterval: 10)
        restored.restore(scaler.state)
        #expect(restored.scale == 2 && restored.goodSteps == 1 && restored.skippedSteps == 1)
    }

    @Test func aSkippedStepLeavesParametersUnchanged() throws {
        try Torch.catching {
            let scaler = GradScaler(initialScale: 65536)
            let p = Tensor([0.5, -0.5] as [Float]).requiringGrad()
            let optimizer = AdamW(groups: [AdamW.Group(name: "p", parameters: [("p", p)], learningRate: 0.1, weightDecay: 0)])
            // fp16 overflow: the scaled loss's gradient is inf.
            let huge = scaler.scaled((p * 1e35).sum())
            huge.backward()
            if scaler.unscaleAndCheck([p]) { optimizer.step() }
            #expect(p.toArray(Float.self) == [0.5, -0.5])
            #expect(scaler.scale == 32768)
            optimizer.zeroGrad()
            scaler.scaled((p * p).sum()).backward()
            if scaler.unscaleAndCheck([p]) { optimizer.step() }
            expectValues(p, [0.4, -0.4], tolerance: 1e-6)
        }
    }
}
