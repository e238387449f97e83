import Foundation
import Testing

@testable import Torch

/// A two-layer model registered under checkpoint-style names.
final class TinyModel {
    let embeddings: Embedding
    let encoder: Linear
    let norm: LayerNorm
    let head: Linear
    let positions: Tensor

    init(_ path: ParameterPath) {
        embeddings = Embedding(path("embeddings")("word_embeddings"), count: 10, size: 4, paddingIndex: 0,
                               initializer: .normal(std: 0.02))
        encoder = Linear(path("encoder")("layer")(0)("dense"), inputSize: 4, outputSize: 3)
        norm = LayerNorm(path("encoder")("layer")(0)("LayerNorm"), size: 3)
        head = Linear(path.inGroup("heads")("classifier"), inputSize: 3, outputSize: 2, bias: false)
        positions = path("embeddings").buffer("position_ids", Tensor.arange(5))
    }
}

@Suite("Parameter store and layers")
struct ModuleTests {
    @Test func namesAreDottedPathsAndGroupsFollowThePath() throws {
        let store = ParameterStore(seed: 1)
        _ = TinyModel(store.root)
        #expect(store.names == [
            "embeddings.word_embeddings.weight", "encoder.layer.0.dense.weight", "encoder.layer.0.dense.bias",
            "encoder.layer.0.LayerNorm.weight", "encoder.layer.0.LayerNorm.bias", "classifier.weight",
            "embeddings.position_ids",
        ])
        #expect(store.count == 7)
        #expect(store.groups == ["default", "heads"])
        #expect(store.entry("classifier.weight")?.group == "heads")
        #expect(store.trainable(group: "heads").map(\.name) == ["classifier.weight"])
        #expect(store.parameterCount == 40 + 12 + 3 + 3 + 3 + 6, "buffers are not parameters")
        #expect(store["encoder.layer.0.dense.weight"]?.shape == [3, 4])
        #expect(store["nope"] == nil)
        let buffer = try #require(store.entry("embeddings.position_ids"))
        #expect(buffer.isBuffer && !buffer.trainable)
        #expect(!store.trainable().map(\.name).contains("embeddings.position_ids"))

        store.setGroup("no_decay", prefix: "encoder.layer.0.LayerNorm")
        #expect(store.trainable(group: "no_decay").map(\.name) == ["encoder.layer.0.LayerNorm.weight",
                                                                   "encoder.layer.0.LayerNorm.bias"])
        #expect(store.groups == ["default", "no_decay", "heads"])
    }

    @Test func freezingExcludesFromTrainingAndStopsGradients() throws {
        try Torch.catching {
            let store = ParameterStore(seed: 1)
            let model = TinyModel(store.root)
            store.freeze(prefix: "encoder")
            let frozen = store.all.filter { !$0.trainable }.map(\.name)
            #expect(frozen == ["encoder.layer.0.dense.weight", "encoder.layer.0.dense.bias",
                               "encoder.layer.0.LayerNorm.weight", "encoder.layer.0.LayerNorm.bias",
                               "embeddings.position_ids"])
            #expect(!model.encoder.weight.requiresGrad)
            #expect(store.trainable().map(\.name) == ["embeddings.word_embeddings.weight", "classifier.weight"])

            let ids = Tensor([1, 2, 3] as [Int64])
            let hidden = model.norm(model.encoder(model.embeddings(ids)))
            model.head(hidden).sum().backward()
            #expect(model.encoder.weight.grad == nil, "a frozen parameter gets no gradient")
            #expect(model.head.weight.grad != nil)
            #expect(model.embeddings.weight.grad != nil)

            store.unfreeze(prefix: "encoder.layer.0.dense")
            #expect(model.encoder.weight.requiresGrad)
            #expect(!model.norm.weight.requiresGrad)
            store.freeze(prefix: "encoder.layer.0.dense.weight")
            #expect(!model.encoder.weight.requiresGrad && model.encoder.bias!.requiresGrad, "a prefix may be a whole key")
            store.freeze(prefix: "encoder.lay")
            #expect(model.encoder.bias!.requiresGrad, "a prefix matches whole components only")
        }
    }

    @Test func castToHalfKeepsTheHandles() throws {
        try Torch.catching {
            let store = ParameterStore(seed: 3)
            let model = TinyModel(store.root)
            let before = model.encoder.weight.toArray(Float.self)
            store.cast(to: .float16)
            #expect(model.encoder.weight.dtype == .float16, "the layer's own tensor sees the new dtype")
            #expect(store["encoder.layer.0.dense.weight"] === model.encoder.weight)
            #expect(model.encoder.weight.requiresGrad)
            expectClose(model.encoder.weight.toArray(Double.self), before.map(Double.init), tolerance: 1e-3, "f16 values")
            #expect(model.positions.dtype == .int64, "integer buffers keep their dtype")
            let out = model.encoder(Tensor.ones([1, 4], dtype: .float16))
            #expect(out.dtype == .float16)
            store.cast(to: .float32)
            #expect(model.head.weight.dtype == .float32)
        }
    }

    @Test func sameSeedSameParameters() throws {
        let first = ParameterStore(seed: 42)
        let second = ParameterStore(seed: 42)
        let other = ParameterStore(seed: 43)
        _ = TinyModel(first.root)
        _ = TinyModel(second.root)
        _ = TinyModel(other.root)
        let name = "encoder.layer.0.dense.weight"
        try Torch.catching {
            #expect(first[name]!.toArray(Float.self) == second[name]!.toArray(Float.self))
            #expect(first[name]!.toArray(Float.self) != other[name]!.toArray(Float.self))
            let bound = Float(1 / 4.0.squareRoot())
            #expect(first[name]!.toArray(Float.self).allSatisfy { Swift.abs($0) <= bound }, "uniform ±1/√fan-in")
            let embedding = first["embeddings.word_embeddings.weight"]!
            #expect(embedding[0].toArray(Float.self) == [0, 0, 0, 0], "the padding row starts at zero")
            #expect(embedding.toArray(Float.self).allSatisfy { Swift.abs($0) < 0.02 * 6 })
            #expect(first["encoder.layer.0.LayerNorm.weight"]!.toArray(Float.self) == [1, 1, 1])
            #expect(first["encoder.layer.0.LayerNorm.bias"]!.toArray(Float.self) == [0, 0, 0])
        }
    }

    @Test func strictLoadNamesKeysAndBothShapes() throws {
        try Torch.catching {
            let store = ParameterStore(seed: 1)
            _ = TinyModel(store.root)
            var state = store.stateDict()
            state["encoder.layer.0.dense.weight"] = Tensor.zeros([4, 3])
            state["classifier.weight"] = nil
            state["pooler.dense.weight"] = Tensor.zeros([2, 2])
            let error = try #require(throws: CheckpointLoadError.self) { try store.load(state, source: "model.safetensors") }
            #expect(error.problems.count == 3)
            #expect(error.problems.contains("missing key classifier.weight (model shape [2, 3])"))
            #expect(error.problems.contains("unexpected key pooler.dense.weight (checkpoint shape [2, 2]), not a parameter of this model"))
            #expect(error.problems.contains(
                "key encoder.layer.0.dense.weight: model expects shape [3, 4], checkpoint has [4, 3]"))
            #expect(error.description.contains("cannot load model.safetensors: 3 problem(s)"))
            #expect(error.description.contains("strict: false"), "the hint names the way out")
        }
    }

    @Test func lenientLoadCopiesWhatMatchesAndReportsTheRest() throws {
        try Torch.catching {
            let source = ParameterStore(seed: 1)
            _ = TinyModel(source.root)
            let target = ParameterStore(seed: 2)
            let model = TinyModel(target.root)
            var state = source.stateDict()
            state["classifier.weight"] = nil
            state["pooler.dense.weight"] = Tensor.zeros([2, 2])
            let headBefore = model.head.weight.toArray(Float.self)
            let unused = try target.load(state, strict: false)
            #expect(unused == ["pooler.dense.weight"])
            #expect(model.encoder.weight.toArray(Float.self) == source["encoder.layer.0.dense.weight"]!.toArray(Float.self))
            #expect(model.head.weight.toArray(Float.self) == headBefore, "a key the checkpoint lacks stays as it was")
            #expect(model.encoder.weight.requiresGrad, "loading keeps parameters trainable")

            let shapeError = try #require(throws: CheckpointLoadError.self) {
                try target.load(["classifier.weight": Tensor.zeros([3, 2])], strict: false)
            }
            #expect(shapeError.problems == ["key classifier.weight: model expects shape [2, 3], checkpoint has [3, 2]"],
                    "shapes are checked even when not strict")

            let copy = ParameterStore(seed: 9)
            _ = TinyModel(copy.root)
            try copy.copy(from: source)
            for name in source.names {
                #expect(copy[name]!.toArray(Double.self) == source[name]!.toArray(Double.self), "\(name)")
            }
        }
    }

    @Test func loadingThroughASafeTensorsFileRestoresTheModel() throws {
        try Torch.catching {
            let source = ParameterStore(seed: 5)
            _ = TinyModel(source.root)
            let folder = try TorchFixtureFiles.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: folder) }
            let url = folder.appendingPathComponent("model.safetensors")
            try SafeTensors.save(source.stateDict(), to: url)
            let target = ParameterStore(seed: 6)
            _ = TinyModel(target.root)
            try target.load(try SafeTensors.load(url))
            for name in source.names {
                #expect(target[name]!.rawBytes() == source[name]!.rawBytes(), "\(name)")
            }
        }
    }

    @Test func layersComputeTheirFormulas() throws {
        try Torch.catching {
            let store = ParameterStore(seed: 1)
            let root = store.root
            let linear = Linear(root("linear"), inputSize: 2, outputSize: 2, initializer: .constant(0.5))
            #expect(linear.bias!.toArray(Float.self) == [0, 0], "an explicit initializer leaves the bias at zero")
            expectValues(linear(Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])), [1.5, 1.5, 3.5, 3.5], shape: [2, 2])

            let conv = Conv2d(root("conv"), inputChannels: 2, outputChannels: 4, kernel: (3, 3), stride: (2, 2),
                              padding: (1, 1), groups: 2, initializer: .ones)
            #expect(conv.weight.shape == [4, 1, 3, 3])
            #expect(store.names.contains("conv.bias"))
            let image = Tensor.ones([1, 2, 5, 5])
            let out = conv(image)
            #expect(out.shape == [1, 4, 3, 3])
            #expect(out.toArray(Float.self)[4] == 9, "the centre sees a full 3 × 3 window of ones")
            #expect(out.toArray(Float.self)[0] == 4, "a corner sees 2 × 2 inside the padding")

            let norm = LayerNorm(root("norm"), size: 4, eps: 1e-12)
            expectValues(norm(Tensor([1, 2, 3, 4] as [Float])), [-1.3416408, -0.4472136, 0.4472136, 1.3416408],
                         tolerance: 1e-6)

            let embedding = Embedding(root("embedding"), count: 3, size: 2, initializer: .uniform(bound: 0.1))
            let rows = embedding(Tensor([2, 2] as [Int64]))
            #expect(rows.shape == [2, 2])
            #expect(rows[0].toArray(Float.self) == embedding.weight[2].toArray(Float.self))
            #expect(embedding.weight.toArray(Float.self).allSatisfy { Swift.abs($0) <= 0.1 })
        }
    }
}

@Suite("The one strict loader")
struct StrictLoaderTests {
    @Test("an alias loads only when its parameter is absent; two keys for one parameter are a problem")
    func aliasesAndDuplicates() throws {
        try Torch.catching {
            let store = ParameterStore(seed: 1)
            _ = TinyModel(store.root)
            var state = store.stateDict()
            let bias = try #require(state["encoder.layer.0.dense.bias"]) * 1  // a copy: stateDict shares storage
            state["encoder.layer.0.dense.bias"] = nil
            state["old.bias"] = bias + 1
            let aliasing: (String) -> CheckpointKeyMapping = { $0 == "old.bias" ? .alias(of: "encoder.layer.0.dense.bias") : .parameter($0) }
            let report = try store.root.load(state, mapping: aliasing, source: "aliased")
            #expect(report.ignored.isEmpty)
            #expect(try #require(store["encoder.layer.0.dense.bias"]).toArray(Float.self) == (bias + 1).toArray(Float.self))

            state["encoder.layer.0.dense.bias"] = bias
            let both = try store.root.load(state, mapping: aliasing, source: "both")
            #expect(both.ignored == ["old.bias": "alias of encoder.layer.0.dense.bias"])
            #expect(try #require(store["encoder.layer.0.dense.bias"]).toArray(Float.self) == bias.toArray(Float.self))

            let renaming: (String) -> CheckpointKeyMapping = { $0 == "old.bias" ? .parameter("encoder.layer.0.dense.bias") : .parameter($0) }
            let error = try #require(throws: CheckpointLoadError.self) { try store.root.load(state, mapping: renaming, source: "twice") }
            #expect(error.problems == ["keys encoder.layer.0.dense.bias and old.bias both name parameter encoder.layer.0.dense.bias"])
        }
    }
}
