import VidTagData
import VidTagModels

extension FramePreprocessing {
    /// The frame pipeline a Hugging Face image processor describes (its `preprocessor_config.json`):
    /// shorter side resized, centre crop, its mean and std. An exact `size` {height, width} resize (ViT's)
    /// becomes a shorter-side resize to that size and a centre crop of it — the same for square frames,
    /// and aspect-preserving for others.
    public init(encoder: FrameEncoderPreprocessing, fallbackSize: ImageSize) throws {
        let crop = encoder.inputSize ?? fallbackSize
        let shorter: Int
        switch encoder.resize {
        case .shortestEdge(let side): shorter = side
        case .exact(let size): shorter = min(size.height, size.width)
        case nil: shorter = min(crop.height, crop.width)
        }
        guard let mean = encoder.mean, let std = encoder.std, mean.count == 3, std.count == 3 else {
            throw FrameEncoderConfigError("the image processor has no 3-channel image_mean / image_std")
        }
        // Mean and std apply after the 0–255 → 0–1 rescale in Hugging Face; FrameNormalization does both.
        self.init(resizeShorterSide: shorter, cropHeight: crop.height, cropWidth: crop.width,
                  normalization: FrameNormalization(mean: mean.map(Float.init), std: std.map(Float.init)))
    }
}
