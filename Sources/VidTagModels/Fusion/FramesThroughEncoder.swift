import Foundation
import Torch

/// Raw frames inside a fusion model (end-to-end training): a frame encoder (ViT, CLIP, Swin) under the key
/// prefix `frame_encoder.` and the parameter group `frame_encoder` (its own, smaller learning rate; it can
/// be frozen) turns `[B, F, 3, H, W]` pixels into the `[B, F, D]` frame vectors the fusion models read.
public struct FrameEncoderSpec: Codable, Sendable, Equatable {
    /// Whether the encoder was built with ViT's pooler / CLIP's visual projection (as its checkpoint had).
    public var pooler: Bool
    public var projection: Bool

    public init(pooler: Bool = false, projection: Bool = false) {
        self.pooler = pooler
        self.projection = projection
    }

    public static let prefix = "frame_encoder"
    public static let group = "frame_encoder"
}

extension FrameEncoderConfig {
    /// The encoder this config describes, with fresh weights, under `path`.
    public func makeEncoder(_ path: ParameterPath, spec: FrameEncoderSpec = FrameEncoderSpec(),
                            group: String = FrameEncoderSpec.group) -> any FrameEncoder {
        switch self {
        case .vit(let config): ViTModel(path, config: config, addPoolingLayer: spec.pooler, group: group)
        case .clip(let config): CLIPVisionModel(path, config: config, withProjection: spec.projection, group: group)
        case .swin(let config): SwinModel(path, config: config, group: group)
        }
    }
}

/// Frame vectors from what the batch holds: features `[B, F, D]` pass through; pixels `[B, F, 3, H, W]` go
/// through the encoder, frame by frame.
func frameVectors(_ frames: Tensor, encoder: (any FrameEncoder)?, train: Bool) -> Tensor {
    guard let encoder, frames.rank == 5 else { return frames }
    let shape = frames.shape
    let flat = frames.reshape([shape[0] * shape[1], shape[2], shape[3], shape[4]])  // [B·F, 3, H, W]
    return encoder.encodeFrames(flat, train: train).reshape([shape[0], shape[1], encoder.outputSize])  // [B, F, D]
}
