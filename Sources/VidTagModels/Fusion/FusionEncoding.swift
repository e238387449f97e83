import Torch

/// What a fusion model computes before its classifier, position by position: the outputs that pretraining
/// tasks read (MLM at the text positions, MFM at the frame positions, ITM on the pooled output, ITC on the
/// two towers). A classifier reads only `pooled`.
public struct FusionEncoding {
    /// `[B, T, H]`: the output at the text positions (dual-stream: after the fusion layers).
    public var text: Tensor
    /// `[B, F, H]`: the output at the frame positions (dual-stream: the video tower's), nil without frames.
    public var frames: Tensor?
    /// `[B, H]`: the fused representation the classifier reads.
    public var pooled: Tensor
    /// Dual-stream: the text tower and the video tower, each pooled `[B, H]`, before any fusion.
    public var towers: (text: Tensor, video: Tensor)?
}

/// A fusion model whose per-position outputs can be read (the single- and dual-stream models).
public protocol FusionEncoder: VideoClassifier {
    var config: FusionConfig { get }
    /// The BERT of the text side (its word embeddings are the MLM decoder's weight).
    var bert: BertModel { get }
    /// Runs the model up to its classifier.
    func encode(_ input: VideoBatchInput, train: Bool) -> FusionEncoding
}
