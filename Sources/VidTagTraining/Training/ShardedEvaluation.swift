import Torch
import VidTagData

/// Held-out evaluation split between the ranks of a data-parallel run: each rank predicts its share of the
/// held-out videos (dealt as the training order is: `LoaderShard`, the last ones padded by repeating the
/// first), then every rank gathers every share, so that all ranks score the same predictions and agree on
/// the best step and on early stopping.
enum ShardedEvaluation {
    /// All ranks' predictions of `heldOut` (split positions), in `heldOut` order, from this rank's `local`
    /// share. Every rank of `group` must call it with shares of equal size.
    static func gather(_ local: Predictions, heldOut: [Int], index: VideoIndex, group: ProcessGroup,
                       device: Device) throws -> Predictions {
        let positionOf = Dictionary(uniqueKeysWithValues: heldOut.map { (index.ids[$0], $0) })
        let classes = local.classes
        let localPositions = try local.ids.map { id -> Int64 in
            guard let position = positionOf[id] else {
                throw ConfigError("sharded evaluation: video \(id) is not among the held-out videos")
            }
            return Int64(position)
        }
        let positions = try group.allGather(Tensor(localPositions, shape: [local.count]).to(device))
            .to(.cpu).toArray(Int64.self)
        let probabilities = try group.allGather(Tensor(local.probabilities, shape: [local.count, classes]).to(device))
            .to(.cpu).toArray(Float.self)
        var rowOf: [Int: Int] = [:]
        for (row, position) in positions.enumerated() where rowOf[Int(position)] == nil { rowOf[Int(position)] = row }
        var result = Predictions(classes: classes)
        for position in heldOut {
            guard let row = rowOf[position] else {
                throw ConfigError("sharded evaluation: no rank predicted video \(index.ids[position])")
            }
            result.ids.append(index.ids[position])
            result.probabilities += probabilities[(row * classes)..<((row + 1) * classes)]
            result.truth.append(Int32(index.label(at: position) ?? -1))
        }
        return result
    }
}
