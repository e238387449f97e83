import Torch

/// NeXtVLAD (Lin et al. 2018) over frame features, as the 2022 WeChat challenge baseline's `NeXtVLAD`
/// (keys `expansion_linear`, `group_attention`, `cluster_linear`, `cluster_weight`, `fc`), with one change:
/// padded frames are masked out of the cluster assignment (the original pooled over them).
public final class NeXtVLAD {
    public let expansionLinear: Linear
    public let groupAttention: Linear
    public let clusterLinear: Linear
    public let clusterWeight: Tensor
    public let fc: Linear
    let featureSize: Int
    let expansion: Int
    let groups: Int
    let clusters: Int
    let dropout: Double

    public init(_ path: ParameterPath, featureSize: Int, clusters: Int, outputSize: Int, expansion: Int = 2,
                groups: Int = 8, dropout: Double = 0.2) {
        precondition((expansion * featureSize) % groups == 0, "NeXtVLAD: expansion × feature size must divide by groups")
        self.featureSize = featureSize
        self.expansion = expansion
        self.groups = groups
        self.clusters = clusters
        self.dropout = dropout
        let expanded = expansion * featureSize
        let groupFeature = expanded / groups
        expansionLinear = Linear(path("expansion_linear"), inputSize: featureSize, outputSize: expanded)
        groupAttention = Linear(path("group_attention"), inputSize: expanded, outputSize: groups)
        clusterLinear = Linear(path("cluster_linear"), inputSize: expanded, outputSize: groups * clusters, bias: false)
        clusterWeight = path.parameter("cluster_weight", shape: [1, groupFeature, clusters], initializer: .normal(std: 0.01))
        fc = Linear(path("fc"), inputSize: groupFeature * clusters, outputSize: outputSize)
    }

    /// - frames: `[B, F, D]`; mask: `[B, F]` (1 = real frame). Returns `[B, output]`.
    public func forward(_ frames: Tensor, mask: Tensor, train: Bool) -> Tensor {
        let batch = frames.size(0)
        let count = frames.size(1)
        let groupFeature = expansion * featureSize / groups
        let expanded = expansionLinear(frames)  // [B, F, E·D]
        let frameMask = mask.to(expanded.dtype).unsqueeze(-1)  // [B, F, 1]
        let attention = (groupAttention(expanded).sigmoid() * frameMask)  // [B, F, G], 0 on padding
            .reshape([batch, count * groups, 1])
        let assignment = clusterLinear(expanded)  // [B, F, G·K]
            .reshape([batch, count * groups, clusters]).softmax(dim: -1) * attention  // [B, F·G, K]
        let anchor = assignment.sum(dim: -2, keepDim: true) * clusterWeight  // [B, E·D/G, K]
        let grouped = expanded.reshape([batch, count * groups, groupFeature])  // [B, F·G, E·D/G]
        let vlad = assignment.permute([0, 2, 1]).matmul(grouped).permute([0, 2, 1])  // [B, E·D/G, K]
        let normalised = (vlad - anchor).normalized(dim: 1).reshape([batch, clusters * groupFeature])
        return fc(normalised.dropout(dropout, train: train))  // [B, output]
    }
}
