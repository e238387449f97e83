import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels
@testable import VidTagTraining

extension TrainingRunTests {
    /// The dual-stream model through everything the other kinds go through: training with tricks, the model
    /// folder, prediction, resume, raw frames end to end, bf16, and ensembles with another kind.
    @Suite struct DualStreamTraining {
        static let dual = ["model.kind=dual_stream", "model.video_layers=1", "model.fusion_layers=1"]

        static func train(_ extra: [String], name: String = "dual") throws -> (RunFolder, TrainingSession.Outcome) {
            let config = try TrainingFixture.tinyConfig(Self.dual + extra)
            let run = RunFolder(TrainingFixture.temporaryFolder(name))
            return (run, try TrainingFixture.session(config, run: run.url).train())
        }

        static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Double {
            guard a.count == b.count else { return .infinity }
            return zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
        }

        @Test("train (video head, multi-sample dropout, FGM, EMA) → save → load → predict gives the held-out predictions again")
        func trainSaveLoadPredict() throws {
            let (run, outcome) = try Self.train([
                "tricks.video_loss_weight=0.5", "tricks.head_samples=2", "tricks.fgm_epsilon=0.5", "tricks.ema_decay=0.9",
                "tricks.layer_decay=0.9",
            ])
            defer { try? FileManager.default.removeItem(at: run.url) }
            #expect(outcome.state.step == 8)
            let losses = try TrainingFixture.trainLosses(run.url)
            #expect(losses.count == 8 && losses.values.allSatisfy(\.isFinite), "\(losses)")
            let heldOut = try #require(outcome.predictions)
            #expect(try #require(outcome.score).mean.isFinite)

            let config = try FusionConfig.load(contentsOf: run.model.configURL)
            #expect(config.modelType == .dualStream && config.videoLayers == 1 && config.fusionLayers == 1 && config.videoHead)
            let runner = try ModelRunner(model: run.url, device: .cpu, workers: 1, batchSize: 5)
            #expect(runner.loaded.model is DualStreamClassifier)
            let (again, _) = try runner.predict(data: TrainingFixture.demo, split: "labeled", select: runner.heldOutFold())
            #expect(again.ids == heldOut.ids)
            let difference = Self.maxAbsDifference(again.probabilities, heldOut.probabilities)
            #expect(difference <= 1e-5, "the reloaded model predicts the held-out fold otherwise (\(difference))")
            let saved = try Predictions.load(run.outOfFoldURL)
            #expect(Self.maxAbsDifference(saved.probabilities, heldOut.probabilities) == 0)
        }

        @Test("the optimizer groups: layer-wise rates inside the text tower, the fusion layers at their own rate")
        func optimizerGroups() throws {
            let config = try TrainingFixture.tinyConfig(Self.dual + [
                "model.layers=2", "tricks.layer_decay=0.5", "train.text_learning_rate=1e-3",
                "train.visual_learning_rate=2e-3", "train.head_learning_rate=4e-3", "train.fusion_learning_rate=3e-4",
            ])
            let fusion = try config.fusionConfig(classes: 7, vocabularySize: 50, separatorTokenId: 3)
            let store = ParameterStore(seed: 1)
            _ = try fusion.makeModel(store: store)
            let groups = GroupLearningRates(rates: config.learningRates, weightDecay: 0.01, layerDecay: 0.5)
                .optimizerGroups(for: store, bertLayers: 2)
            let rates = Dictionary(uniqueKeysWithValues: groups.map { ($0.name, $0.learningRate) })
            #expect(rates["text.layer1"] == 1e-3)
            #expect(rates["text.layer0"] == 5e-4)
            #expect(rates["text.embeddings"] == 2.5e-4)
            #expect(rates["visual"] == 2e-3)
            #expect(rates["fusion"] == 3e-4 && rates["fusion.no_decay"] == 3e-4)
            #expect(rates["head"] == 4e-3)
            let fusionNames = groups.filter { $0.name.hasPrefix("fusion") }.flatMap { $0.parameters.map { $0.0 } }
            #expect(!fusionNames.isEmpty && fusionNames.allSatisfy { $0.hasPrefix("fusion.layer.") })
            let count = groups.reduce(0) { $0 + $1.parameters.count }
            #expect(count == store.names.count, "every parameter in exactly one group")

            var auto = config
            auto.train.fusionLearningRate = 0
            #expect(auto.learningRates["fusion"] == auto.learningRates["head"], "auto: the head rate")
        }

        @Test("8 steps uninterrupted = 3 steps, stop, resume to 8")
        func resume() throws {
            try Resume().exactResume(kind: "dual_stream")
        }

        @Test("raw frames end to end through a frame encoder, and the folder alone predicts them")
        func rawFramesEndToEnd() throws {
            let (run, outcome) = try Self.train([
                "model.frame_encoder=\(EndToEndFramesTests.encoder)", "data.frame_source=frames", "train.max_steps=4",
                "train.eval_every=2",
            ], name: "dual-e2e")
            defer { try? FileManager.default.removeItem(at: run.url) }
            #expect(outcome.state.step == 4)
            let weights = try SafeTensors.load(run.model.weightsURL)
            #expect(weights.keys.contains { $0.hasPrefix("\(FrameEncoderSpec.prefix).") })
            let runner = try ModelRunner(model: run.url, device: .cpu, workers: 1, batchSize: 8)
            #expect(runner.loaded.model.frameEncoder != nil)
            let (predictions, index) = try runner.predict(data: TrainingFixture.demo, split: "test_a")
            #expect(predictions.count == index.count)
            #expect(predictions.probabilities.allSatisfy { $0.isFinite })
        }

        @Test("bf16 autocast trains and evaluates to finite values")
        func bf16() throws {
            let (run, outcome) = try Self.train(["train.precision=bf16", "train.max_steps=3", "train.eval_every=3",
                                                 "tricks.video_loss_weight=0.5"], name: "dual-bf16")
            defer { try? FileManager.default.removeItem(at: run.url) }
            #expect(try TrainingFixture.trainLosses(run.url).values.allSatisfy(\.isFinite))
            #expect(try #require(outcome.predictions).probabilities.allSatisfy { $0.isFinite })
        }

        @Test("vidtag predict over a single-stream and a dual-stream model (other token budgets and frame counts) = the average of each model's own probabilities")
        func mixedKindEnsemble() throws {
            let (single, _) = try Self.train(["model.kind=single_stream", "data.max_frames=3", "data.title_tokens=8",
                                              "data.asr_tokens=6", "train.max_steps=4"], name: "ens-single")
            let (dual, _) = try Self.train(["train.max_steps=4", "data.max_frames=4", "data.ocr_tokens=16"], name: "ens-dual")
            let output = TrainingFixture.temporaryFolder("ens-out")
            defer { for url in [single.url, dual.url, output] { try? FileManager.default.removeItem(at: url) } }

            // Each member alone, through its own folder's data settings.
            var members: [Predictions] = []
            var settings: [ModelDataSettings] = []
            for run in [single, dual] {
                let runner = try ModelRunner(model: run.url, device: .cpu, workers: 1, batchSize: 7)
                settings.append(runner.loaded.data)
                members.append(try runner.predict(data: TrainingFixture.demo, split: "test_a").0)
            }
            #expect(settings[0].maxFrames == 3 && settings[1].maxFrames == 4)
            #expect(settings[0].budgets != settings[1].budgets)
            #expect(members[0].ids == members[1].ids)
            #expect(Self.maxAbsDifference(members[0].probabilities, members[1].probabilities) > 1e-3,
                    "the members must disagree for the average to show anything")
            let average = zip(members[0].probabilities, members[1].probabilities).map { ($0 + $1) / 2 }

            let probabilities = output.appendingPathComponent("ensemble.safetensors")
            let result = try TrainingFixture.runVidtag([
                "predict", "--data", TrainingFixture.demoRoot.path, "--split", "test_a", "--model", single.url.path,
                "--model", dual.url.path, "--out", output.appendingPathComponent("result.csv").path,
                "--probabilities", probabilities.path,
            ])
            #expect(result.status == 0, "\(result.output)")
            let ensemble = try Predictions.load(probabilities)
            #expect(ensemble.ids == members[0].ids)
            let difference = Self.maxAbsDifference(ensemble.probabilities, average)
            #expect(difference <= 1e-6, "the ensemble differs from the hand-computed average by \(difference)")
        }

        @Test("out-of-fold predictions of a single-stream and a dual-stream K-fold run combine: evaluate, tune-weights and tune-boost work on them; a run that held out other videos is refused")
        func mixedKindOutOfFold() throws {
            func kfold(_ extra: [String], name: String) throws -> URL {
                let run = RunFolder(TrainingFixture.temporaryFolder(name))
                let config = try TrainingFixture.tinyConfig(extra + ["train.max_steps=3", "train.eval_every=3"])
                _ = try #require(try KFoldTraining(config: config, data: TrainingFixture.demo, run: run, folds: 2).train())
                return run.url
            }
            let single = try kfold(["model.kind=single_stream", "data.max_frames=3"], name: "oof-single")
            let dual = try kfold(Self.dual, name: "oof-dual")
            // One model with one held-out fold: it held out a part of what the K-fold runs did.
            let (oneFold, _) = try Self.train(["train.max_steps=3", "train.eval_every=3", "data.validation_fraction=0.5"],
                                              name: "oof-one-fold")
            let otherFolds = oneFold.url
            defer { for url in [single, dual, otherFolds] { try? FileManager.default.removeItem(at: url) } }

            let each = try [single, dual].map {
                try ModelSelection(models: [$0.path]).predictHeldOut(data: TrainingFixture.demo, device: .cpu).predictions
            }
            #expect(Set(each[0].ids) == Set(each[1].ids) && each[0].ids.count == 200)
            let selection = try ModelSelection(models: [single.path, dual.path], weights: [3, 1])
            #expect(selection.weights == [1.5, 1.5, 0.5, 0.5], "one weight per --model is shared by its fold models")
            let combined = try selection.predictHeldOut(data: TrainingFixture.demo, device: .cpu).predictions
            let rowOfDual = Dictionary(uniqueKeysWithValues: each[1].ids.enumerated().map { ($1, $0) })
            var worst = 0.0
            let classes = combined.classes
            #expect(classes == each[0].classes && classes == each[1].classes)
            for (row, id) in combined.ids.enumerated() {
                let s = try #require(each[0].ids.firstIndex(of: id))
                let d = try #require(rowOfDual[id])
                for c in 0..<classes {
                    let expected = 0.75 * Double(each[0].probabilities[s * classes + c]) + 0.25 * Double(each[1].probabilities[d * classes + c])
                    worst = max(worst, abs(expected - Double(combined.probabilities[row * classes + c])))
                }
            }
            #expect(worst <= 1e-6, "the out-of-fold ensemble differs from the hand-weighted one by \(worst)")
            #expect(combined.truth == combined.ids.map { each[0].truth[each[0].ids.firstIndex(of: $0)!] })

            // Prediction on a split: the fold models of each run share one pass (one recipe per run), and the
            // ensemble equals the average of the four members run one by one.
            let four = try ModelSelection(models: [single.path, dual.path])
            #expect(try four.recipeGroups() == [[0, 1], [2, 3]])
            let together = try four.predict(data: TrainingFixture.demo, split: "test_a", device: .cpu, workers: 1).predictions
            let alone = try four.members.map {
                try ModelRunner(model: $0, device: .cpu, workers: 1).predict(data: TrainingFixture.demo, split: "test_a").0
            }
            let average = (0..<together.probabilities.count).map { i in alone.reduce(0) { $0 + Double($1.probabilities[i]) } / 4 }
            #expect(alone.allSatisfy { $0.ids == together.ids })
            #expect(zip(average, together.probabilities).map { abs($0 - Double($1)) }.max()! <= 1e-6)

            let evaluated = try TrainingFixture.runVidtag(
                ["evaluate", "--data", TrainingFixture.demoRoot.path, "--model", single.path, "--model", dual.path, "--json"])
            #expect(evaluated.status == 0, "\(evaluated.output)")
            let weightsFile = TrainingFixture.temporaryFolder("oof-weights").appendingPathExtension("json")
            defer { try? FileManager.default.removeItem(at: weightsFile) }
            let tuned = try TrainingFixture.runVidtag(["tune-weights", "--data", TrainingFixture.demoRoot.path, "--model",
                                                       single.path, "--model", dual.path, "--out", weightsFile.path])
            #expect(tuned.status == 0 && tuned.output.contains("--weights"), "\(tuned.output)")
            let weights = try JSONDecoder().decode(EnsembleWeights.self, from: Data(contentsOf: weightsFile))
            #expect(weights.weights.count == 2 && abs(weights.weights.reduce(0, +) - 1) < 1e-9)
            #expect(weights.scoreAfter >= weights.scoreBefore)
            let boosted = try TrainingFixture.runVidtag(["tune-boost", "--data", TrainingFixture.demoRoot.path, "--model",
                                                         single.path, "--model", dual.path, "--out", weightsFile.path + ".boost"])
            #expect(boosted.status == 0, "\(boosted.output)")
            try? FileManager.default.removeItem(atPath: weightsFile.path + ".boost")

            #expect {
                try ModelSelection(models: [single.path, otherFolds.path]).predictHeldOut(data: TrainingFixture.demo, device: .cpu)
            } throws: { error in
                "\(error)".contains(otherFolds.path) && "\(error)".contains("held out other videos") && "\(error)".contains("--split")
            }
        }
    }
}
