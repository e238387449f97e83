/// A layer mapping one tensor to one tensor. Train or eval is an argument, never hidden state.
public protocol Module: AnyObject {
    func forward(_ input: Tensor, train: Bool) -> Tensor
}

extension Module {
    public func callAsFunction(_ input: Tensor, train: Bool = false) -> Tensor { forward(input, train: train) }
}

/// y = x Wᵀ + b, keys `weight` [out, in] and `bias` [out].
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    /// `initializer` defaults to PyTorch's own (uniform ±1/√in for weight and bias); Hugging Face models
    /// pass `.normal(std: 0.02)` with a zero bias.
    public init(_ path: ParameterPath, inputSize: Int, outputSize: Int, bias: Bool = true,
                initializer: Initializer? = nil) {
        weight = path.parameter("weight", shape: [outputSize, inputSize],
                                initializer: initializer ?? .pytorchDefault(fanIn: inputSize))
        let biasInitializer: Initializer = initializer == nil ? .pytorchDefault(fanIn: inputSize) : .zeros
        self.bias = bias ? path.parameter("bias", shape: [outputSize], initializer: biasInitializer) : nil
    }

    public func forward(_ input: Tensor, train: Bool = false) -> Tensor {
        input.linear(weight: weight, bias: bias)
    }
}

/// A lookup table, key `weight` [count, size].
public final class Embedding: Module {
    public let weight: Tensor
    public let paddingIndex: Int?

    public init(_ path: ParameterPath, count: Int, size: Int, paddingIndex: Int? = nil,
                initializer: Initializer = .normal(std: 1)) {
        weight = path.parameter("weight", shape: [count, size], initializer: initializer)
        self.paddingIndex = paddingIndex
        if let paddingIndex {
            withNoGrad { weight[paddingIndex].zero_() }
        }
    }

    public func forward(_ ids: Tensor, train: Bool = false) -> Tensor {
        weight.embeddingLookup(ids, paddingIndex: paddingIndex)
    }
}

/// Layer normalisation over the last dimension, keys `weight` and `bias`.
public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Double
    let size: Int

    public init(_ path: ParameterPath, size: Int, eps: Double = 1e-5) {
        weight = path.parameter("weight", shape: [size], initializer: .ones)
        bias = path.parameter("bias", shape: [size], initializer: .zeros)
        self.eps = eps
        self.size = size
    }

    public func forward(_ input: Tensor, train: Bool = false) -> Tensor {
        input.layerNorm([size], weight: weight, bias: bias, eps: eps)
    }
}

/// Dropout with probability `p` when training; no parameters.
public final class Dropout: Module {
    public let p: Double
    public init(_ p: Double) { self.p = p }
    public func forward(_ input: Tensor, train: Bool) -> Tensor { input.dropout(p, train: train) }
}

/// 2-D convolution, keys `weight` [out, in / groups, kh, kw] and `bias` [out].
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public let groups: Int

    public init(_ path: ParameterPath, inputChannels: Int, outputChannels: Int, kernel: (Int, Int),
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = true,
                initializer: Initializer? = nil) {
        let fanIn = inputChannels / groups * kernel.0 * kernel.1
        weight = path.parameter("weight", shape: [outputChannels, inputChannels / groups, kernel.0, kernel.1],
                                initializer: initializer ?? .pytorchDefault(fanIn: fanIn))
        let biasInitializer: Initializer = initializer == nil ? .pytorchDefault(fanIn: fanIn) : .zeros
        self.bias = bias ? path.parameter("bias", shape: [outputChannels], initializer: biasInitializer) : nil
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    public func forward(_ input: Tensor, train: Bool = false) -> Tensor {
        input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, groups: groups)
    }
}
