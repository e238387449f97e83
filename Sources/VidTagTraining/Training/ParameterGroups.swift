import Foundation
import Torch

/// Learning rates per parameter group and the decay rule, as the WeChat top teams set them: BERT (group
/// `text`), the visual side (`visual`), the dual-stream fusion layers (`fusion`) and the new heads (`head`)
/// each with their own rate; no weight decay on biases and LayerNorm weights.
public struct GroupLearningRates: Sendable, Equatable {
    public var rates: [String: Double]
    public var weightDecay: Double
    /// Layer-wise decay inside BERT: layer l (0-based) of L gets rate · decay^(L − 1 − l), the embeddings
    /// rate · decay^L (1: off).
    public var layerDecay: Double

    public init(rates: [String: Double], weightDecay: Double, layerDecay: Double = 1) {
        self.rates = rates
        self.weightDecay = weightDecay
        self.layerDecay = layerDecay
    }

    /// Whether a parameter is exempt from weight decay: biases, and the weights of norm layers, whose
    /// module names say "norm" in every spelling the checkpoints use (BERT `LayerNorm`, `video_norm`, ViT /
    /// Swin `layernorm_before`, CLIP `layer_norm1` and `pre_layrnorm`, Swin `norm`).
    public static func isDecayExempt(_ name: String) -> Bool {
        let components = name.split(separator: ".")
        if components.last == "bias" { return true }
        return components.dropLast().last.map { $0.lowercased().contains("norm") } ?? false
    }

    /// The BERT layer index encoded in a key (`bert.encoder.layer.3.…` → 3; embeddings → -1; else nil).
    static func bertDepth(_ name: String) -> Int? {
        guard name.hasPrefix("bert.") else { return nil }
        if name.hasPrefix("bert.embeddings.") { return -1 }
        let parts = name.split(separator: ".")
        if parts.count > 3, parts[1] == "encoder", parts[2] == "layer", let layer = Int(parts[3]) { return layer }
        return nil
    }

    /// AdamW groups over the trainable parameters of `store`: one per (group, decay, layer) combination.
    public func optimizerGroups(for store: ParameterStore, bertLayers: Int = 0) -> [AdamW.Group] {
        var groups: [String: AdamW.Group] = [:]
        var order: [String] = []
        for entry in store.trainable() {
            let base = rates[entry.group] ?? rates["head"] ?? 1e-3
            var scale = 1.0
            var layerTag = ""
            if layerDecay != 1, entry.group == "text", let depth = Self.bertDepth(entry.name) {
                let exponent = depth < 0 ? bertLayers : bertLayers - 1 - depth
                scale = pow(layerDecay, Double(exponent))
                layerTag = depth < 0 ? ".embeddings" : ".layer\(depth)"
            }
            let exempt = Self.isDecayExempt(entry.name)
            let key = "\(entry.group)\(layerTag)\(exempt ? ".no_decay" : "")"
            if groups[key] == nil {
                groups[key] = AdamW.Group(name: key, parameters: [], learningRate: base * scale,
                                          weightDecay: exempt ? 0 : weightDecay)
                order.append(key)
            }
            groups[key]!.parameters.append((entry.name, entry.tensor))
        }
        return order.map { groups[$0]! }
    }
}
