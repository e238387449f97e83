import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag pseudo-label`: soft labels of a split from a model or an ensemble, for training on them
/// (`data.pseudo_labels`) or distilling (`tricks.distill_weight`).
struct PseudoLabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pseudo-label",
        abstract: "Write soft labels (top-k probabilities) of a split's videos, averaged over the given models.",
        discussion: """
            Writes a folder: pseudo_labels.json (the split, data root, teachers with the fold each held out, k and the \
            filter), ids.txt and pseudo_labels.safetensors (classes and probabilities, [N, k]). Train on it with \
            `vidtag train --set data.pseudo_labels=OUT --set data.pseudo_weight=W`; a run refuses pseudo-labels that \
            would leak its held-out fold. On a split the teachers trained on, their held-out videos are left out; \
            --out-of-fold instead predicts each video with the fold model of a K-fold folder that held it out.
            """)

    @OptionGroup var models: ModelOptions
    @Option(help: "Data root.") var data: String
    @Option(help: "Split to pseudo-label.") var split = "unlabeled"
    @Option(help: "Folder to write (replaced if it holds older pseudo-labels).") var out: String
    @Option(help: "Classes kept per video, most probable first.") var topK = 5
    @Option(help: "Keep videos whose top probability is at least this.") var threshold = 0.0
    @Option(help: "Keep this share of each predicted class, most confident first.") var topShare = 1.0
    @Flag(help: "Predict each video with the K-fold member that held it out (--split is the teachers' training split).")
    var outOfFold = false
    @Option(help: "Videos per forward pass.") var batchSize = 64
    @Option(help: "Background threads building batches.") var workers = 2

    func run() throws {
        try Runtime.checkVersion()
        let started = Date()
        var labelling = try PseudoLabelling(
            selection: try models.selection(), data: DataRoot(path: data), split: split, topK: topK,
            filter: try PseudoLabelFilter(threshold: threshold, topShare: topShare), outOfFold: outOfFold,
            device: try models.parsedDevice(), dtype: try models.castType(), workers: workers, batchSize: batchSize)
        let terminal = isatty(STDERR_FILENO) != 0
        labelling.onProgress = { done, total in
            if terminal { FileHandle.standardError.write(Data("\r  \(done) / \(total) videos".utf8)) }
        }
        let labels = try labelling.run()
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        try labels.save(to: URL(fileURLWithPath: out))
        let description = labels.description
        print(String(format: "wrote %@: %d of %d videos of %@ kept (top %d classes each), %d teacher(s), in %.1f s", out,
                     description.videosKept, description.videosPredicted, split, topK, description.teachers.count,
                     Date().timeIntervalSince(started)))
    }
}
