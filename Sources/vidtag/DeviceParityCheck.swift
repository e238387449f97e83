import Foundation
import Torch
import VidTagModels

/// `vidtag doctor --device D`: each model kind, small, built once on the CPU and copied to `D`, must give
/// the CPU's logits on `D` (fp32, eval) within a tolerance — the check that a GPU build of the shim runs
/// vidtag's models as the CPU does.
struct DeviceParityCheck {
    /// A model kind the check runs: the fusion type and the frame encoder in front of it (nil: features).
    struct Case: CustomStringConvertible {
        let modelType: ModelKind
        let frameEncoder: FrameEncoderConfig?
        let encoderName: String
        /// The frame vectors' size: the encoder's output, or the features'.
        let featureSize: Int

        var description: String { frameEncoder == nil ? modelType.rawValue : "\(modelType.rawValue) + \(encoderName) frames" }
    }

    static let cases: [Case] = {
        var vit = ViTConfig()
        (vit.hiddenSize, vit.numHiddenLayers, vit.numAttentionHeads, vit.intermediateSize) = (64, 2, 4, 128)
        (vit.imageSize, vit.patchSize) = (ImageSize(square: imageSide), ImageSize(square: 8))
        var clip = CLIPVisionConfig()
        (clip.hiddenSize, clip.numHiddenLayers, clip.numAttentionHeads, clip.intermediateSize) = (64, 2, 4, 128)
        (clip.imageSize, clip.patchSize) = (imageSide, 8)
        var swin = SwinConfig()
        (swin.imageSize, swin.patchSize) = (ImageSize(square: imageSide), ImageSize(square: 4))
        (swin.embedDim, swin.depths, swin.numHeads, swin.windowSize) = (16, [1, 1], [2, 4], 4)
        return [
            Case(modelType: .singleStream, frameEncoder: nil, encoderName: "", featureSize: 24),
            Case(modelType: .dualStream, frameEncoder: nil, encoderName: "", featureSize: 24),
            Case(modelType: .baseline, frameEncoder: nil, encoderName: "", featureSize: 24),
            Case(modelType: .singleStream, frameEncoder: .vit(vit), encoderName: "ViT", featureSize: 64),
            Case(modelType: .singleStream, frameEncoder: .clip(clip), encoderName: "CLIP", featureSize: 64),
            Case(modelType: .baseline, frameEncoder: .swin(swin), encoderName: "Swin", featureSize: 32),
        ]
    }()

    /// The side of the raw frames the encoders take.
    static let imageSide = 32

    /// Largest |device − CPU| allowed, relative to the largest CPU logit (TF32 and kernel order differ).
    static let tolerance = 2e-3

    /// The largest relative difference of the logits on `device` from the CPU's, for `model`.
    static func relativeDifference(_ model: Case, on device: Device) throws -> Double {
        try Torch.catching {
            let (config, encoder) = configuration(model)
            let cpuStore = ParameterStore(device: .cpu, seed: 0)
            let onCPU = try config.makeModel(store: cpuStore, frameEncoder: encoder)
            let deviceStore = ParameterStore(device: device, seed: 0)
            let onDevice = try config.makeModel(store: deviceStore, frameEncoder: encoder)
            try deviceStore.load(cpuStore.stateDict().mapValues { $0.to(device) }, strict: true, source: "the CPU model")

            let generator = Generator(seed: 1)
            let (batch, text) = (3, 12)
            let frames = encoder == nil
                ? [batch, config.maxFrames, config.featureSize] : [batch, config.maxFrames, 3, imageSide, imageSide]
            let textIds = Tensor.randint(5, config.textConfig.vocabSize, [batch, text], generator: generator)
            // The first video's text and the second's frames end in padding.
            var textValues = [Int64](repeating: 1, count: batch * text)
            for position in (text - 4)..<text { textValues[position] = 0 }
            var frameValues = [Int64](repeating: 1, count: batch * config.maxFrames)
            frameValues[2 * config.maxFrames - 1] = 0
            let textMask = Tensor(textValues, shape: [batch, text])
            let frameMask = Tensor(frameValues, shape: [batch, config.maxFrames])
            let input = Tensor.randn(frames, generator: generator)
            func logits(_ model: any VideoClassifier, _ device: Device) -> Tensor {
                let batchInput = VideoBatchInput(textIds: textIds.to(device), textMask: textMask.to(device),
                                                 frames: input.to(device), frameMask: frameMask.to(device))
                return withNoGrad { model.forward(batchInput, train: false).logits }.to(.cpu)
            }
            let expected = logits(onCPU, .cpu)
            let actual = logits(onDevice, device)
            let scale = Swift.max(expected.abs().max().item(), 1e-6)
            return (actual - expected).abs().max().item() / scale
        }
    }

    static func configuration(_ model: Case) -> (FusionConfig, FrameEncoderConfig?) {
        var text = BertConfig()
        (text.vocabSize, text.hiddenSize, text.numHiddenLayers, text.numAttentionHeads, text.intermediateSize) = (200, 32, 2, 4, 64)
        let config = FusionConfig(
            modelType: model.modelType, modalities: .both, classes: 7, featureSize: model.featureSize, maxFrames: 4,
            textPositions: 12, separatorTokenId: 3, dropout: 0, nextvladClusters: 4, nextvladGroups: 2,
            nextvladOutput: 16, fusionSize: 16, seReduction: 4, textConfig: text,
            frameEncoder: model.frameEncoder == nil ? nil : FrameEncoderSpec())
        return (config, model.frameEncoder)
    }
}
