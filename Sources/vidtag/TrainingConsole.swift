import Foundation
import VidTagData
import VidTagTraining

/// Shows a training run's events: a progress bar and lines for people, JSON lines for machines, or (quiet)
/// nothing but warnings.
final class TrainingConsole {
    let output: OutputOptions
    let logEvery: Int
    private var progress: ProgressReporter?

    init(output: OutputOptions, logEvery: Int) {
        self.output = output
        self.logEvery = logEvery
    }

    func handle(_ event: TrainingEvent) {
        switch output.logFormat {
        case .json: printJSON(event)
        case .text: printText(event)
        }
    }

    private func printText(_ event: TrainingEvent) {
        switch event {
        case .annotationsSkipped(let report):
            say("annotations: \(report)", warning: true)
        case .vocabularyBuilt(let tokens, let url):
            say("vocabulary: \(tokens) tokens made from the training texts (\(url.path))")
        case .pretrainedLoaded(let part, let source, let report):
            say("\(part) \(source): \(report)")
        case .started(let start):
            progress = output.quiet ? nil : ProgressReporter(total: start.totalSteps, plainEvery: logEvery)
            say("model: \(start.modelKind.rawValue) (\(start.modalities.rawValue)), \(start.parameters) parameters; training on "
                + "\(start.trainVideos) videos, evaluating on \(start.heldOutVideos) (fold \(start.fold)) on \(start.device)")
        case .resumed(let state, let run):
            progress = output.quiet ? nil : ProgressReporter(total: state.totalSteps, startStep: state.step, plainEvery: logEvery)
            say("resuming \(run.path) at step \(state.step) (epoch \(state.epoch + 1), batch \(state.batchInEpoch))")
        case .step(let step):
            progress?.update(step: step.step, epoch: step.epoch, loss: step.loss ?? .nan,
                             samplesPerSecond: step.samplesPerSecond, learningRate: step.learningRate)
        case .evaluated(let step, let score, let isBest):
            say(String(format: "eval at step %d: score %.4f (l1 micro %.4f macro %.4f, l2 micro %.4f macro %.4f)%@",
                       step, score.mean, score.level1MicroF1, score.level1MacroF1, score.level2MicroF1,
                       score.level2MacroF1, isBest ? "  ← best, saved" : ""))
        case .checkpointSaved:
            break
        case .stoppedEarly(let step, .requested):
            say("stopped at step \(step) as asked; the checkpoint of that step is written", warning: true)
        case .stoppedEarly(let step, .noImprovement(let evaluations)):
            say("early stopping at step \(step): \(evaluations) evaluations without a better held-out score")
        case .foldStarted(let fold, let count, let seed):
            say("== fold \(fold + 1) of \(count) (seed \(seed)) ==")
        }
    }

    private func say(_ line: String, warning: Bool = false) {
        guard !output.quiet || warning else { return }
        progress?.interrupt()
        print(line)
    }

    private func printJSON(_ event: TrainingEvent) {
        var object: [String: Any]
        switch event {
        case .annotationsSkipped(let report):
            object = ["event": "annotations_skipped", "seen": report.recordsSeen, "skipped": report.recordsSkipped]
        case .vocabularyBuilt(let tokens, let url):
            object = ["event": "vocabulary_built", "tokens": tokens, "path": url.path]
        case .pretrainedLoaded(let part, let source, let report):
            object = ["event": "pretrained_loaded", "part": part, "source": source, "loaded": report.loaded,
                      "taken": report.taken, "ignored": report.ignored, "fresh": report.fresh]
        case .started(let start):
            object = ["event": "started", "model": start.modelKind.rawValue, "modalities": start.modalities.rawValue,
                      "parameters": start.parameters, "train_videos": start.trainVideos,
                      "held_out_videos": start.heldOutVideos, "fold": start.fold, "device": start.device,
                      "total_steps": start.totalSteps]
        case .resumed(let state, let run):
            object = ["event": "resumed", "run": run.path, "step": state.step, "epoch": state.epoch]
        case .step(let step):
            guard step.step % max(logEvery, 1) == 0 || step.step == step.totalSteps else { return }
            object = ["event": "step", "step": step.step, "total_steps": step.totalSteps, "epoch": step.epoch,
                      "lr": step.learningRate, "samples_per_second": step.samplesPerSecond,
                      "data_wait_fraction": step.dataWaitFraction]
            if let loss = step.loss, loss.isFinite { object["loss"] = loss }
        case .evaluated(let step, let score, let isBest):
            object = ["event": "evaluated", "step": step, "score": score.mean, "level1_micro_f1": score.level1MicroF1,
                      "level1_macro_f1": score.level1MacroF1, "level2_micro_f1": score.level2MicroF1,
                      "level2_macro_f1": score.level2MacroF1, "best": isBest]
        case .checkpointSaved(let step):
            object = ["event": "checkpoint_saved", "step": step]
        case .stoppedEarly(let step, let reason):
            object = ["event": "stopped_early", "step": step]
            switch reason {
            case .requested: object["reason"] = "requested"
            case .noImprovement(let evaluations): object["reason"] = "no_improvement"; object["evaluations"] = evaluations
            }
        case .foldStarted(let fold, let count, let seed):
            object = ["event": "fold_started", "fold": fold, "folds": count, "seed": seed]
        }
        object["time"] = Date().timeIntervalSince1970
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
