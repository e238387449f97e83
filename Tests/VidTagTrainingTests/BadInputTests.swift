import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels
@testable import VidTagTraining

extension TrainingRunTests {
    /// Wrong data, folders and runs are refused before training, with messages that name what is wrong.
    @Suite struct BadInput {
        /// The message `body` fails with ("" when it does not fail).
        static func failure(_ body: () throws -> Void) -> String {
            do {
                try body()
                return ""
            } catch {
                return "\(error)"
            }
        }

        @Test("a data root without the training split's annotations: the message names the split and path")
        func missingAnnotationSplit() throws {
            let run = TrainingFixture.temporaryFolder("bad-split")
            defer { try? FileManager.default.removeItem(at: run) }
            let config = try TrainingFixture.tinyConfig(["data.train_split=train"])
            let message = Self.failure { _ = try TrainingFixture.session(config, run: run).train() }
            #expect(message.contains("'train'"), "\(message)")
            #expect(message.contains(try TrainingFixture.demo.url.appendingPathComponent("annotations/train.json").path),
                    "\(message)")
            #expect(message.contains("labeled"), "the splits present should be listed: \(message)")
        }

        @Test("a data root without zip_feats: the message names the split and the feature zip's path")
        func missingFeatures() throws {
            let root = TrainingFixture.temporaryFolder("bad-root")
            let run = TrainingFixture.temporaryFolder("bad-root-run")
            defer {
                try? FileManager.default.removeItem(at: root)
                try? FileManager.default.removeItem(at: run)
            }
            for item in ["annotations", "labels.json"] {
                try FileManager.default.createSymbolicLink(
                    at: root.appendingPathComponent(item), withDestinationURL: TrainingFixture.demoRoot.appendingPathComponent(item))
            }
            let message = Self.failure {
                _ = try TrainingFixture.session(try TrainingFixture.tinyConfig(), run: run, data: DataRoot(url: root)).train()
            }
            #expect(message.contains("'labeled'"), "\(message)")
            #expect(message.contains(root.appendingPathComponent("zip_feats/labeled.zip").path), "\(message)")
        }

        /// A model folder as `vidtag train` leaves it, without training: description and initial weights.
        static func writeModelFolder(_ url: URL, kind: String) throws {
            let config = try TrainingFixture.tinyConfig(["model.kind=\(kind)"])
            let labels = try LabelSpace(for: TrainingFixture.demo)
            let vocabulary = try TrainingFixture.vocabularyFolder.appendingPathComponent("vocab.txt")
            let vocabularySize = try String(contentsOf: vocabulary, encoding: .utf8).split(separator: "\n").count
            let fusion = try config.fusionConfig(classes: labels.level2Count, vocabularySize: vocabularySize, separatorTokenId: 3)
            let store = ParameterStore(seed: 1)
            _ = try fusion.makeModel(store: store)
            let folder = ModelFolder(url)
            try folder.saveDescription(
                config: fusion, vocabulary: vocabulary, labels: labels,
                data: ModelDataSettings(budgets: config.budgets, maxFrames: 4, frameSource: .features, featureSize: 768))
            try folder.saveWeights(store)
        }

        @Test("a model folder loads back; with another model type's config.json it is refused naming keys")
        func modelFolderOfAnotherType() throws {
            let url = TrainingFixture.temporaryFolder("model-folder")
            defer { try? FileManager.default.removeItem(at: url) }
            try Self.writeModelFolder(url, kind: "single_stream")
            let loaded = try ModelFolder(url).load(device: .cpu)
            #expect(loaded.model is SingleStreamClassifier)

            var config = try FusionConfig.load(contentsOf: ModelFolder(url).configURL)
            config.modelType = .baseline
            try config.save(to: ModelFolder(url).configURL)
            let message = Self.failure { _ = try ModelFolder(url).load(device: .cpu) }
            #expect(message.contains(ModelFolder(url).weightsURL.path), "\(message)")
            #expect(message.contains("nextvlad.cluster_weight"), "a missing key should be named: \(message)")
            #expect(message.contains("video_projection.bias"), "an unexpected key should be named: \(message)")
        }

        @Test("a BERT text-encoder folder given as a model folder: the message says it is a BERT")
        func bertFolderAsModelFolder() throws {
            let url = TrainingFixture.temporaryFolder("bert-folder")
            defer { try? FileManager.default.removeItem(at: url) }
            var bertConfig = BertConfig()
            bertConfig.vocabSize = 30
            bertConfig.hiddenSize = 8
            bertConfig.numHiddenLayers = 1
            bertConfig.numAttentionHeads = 2
            bertConfig.intermediateSize = 16
            let bert = BertModel(ParameterStore(seed: 2).root, config: bertConfig)
            try TextEncoderFolder.save(bert, vocabulary: TrainingFixture.vocabularyFolder.appendingPathComponent("vocab.txt"),
                                       to: url)
            let message = Self.failure { _ = try ModelFolder(url).load(device: .cpu) }
            #expect(message.contains(url.appendingPathComponent("config.json").path), "\(message)")
            #expect(message.contains("'bert'") && message.contains("text_encoder"), "\(message)")
        }

        @Test("a vidtag model folder given as model.text_encoder: refused, saying it is not a BERT")
        func modelFolderAsTextEncoder() throws {
            let model = TrainingFixture.temporaryFolder("model-as-encoder")
            let run = TrainingFixture.temporaryFolder("model-as-encoder-run")
            defer {
                try? FileManager.default.removeItem(at: model)
                try? FileManager.default.removeItem(at: run)
            }
            try Self.writeModelFolder(model, kind: "single_stream")
            let config = try TrainingFixture.tinyConfig(["model.text_encoder=\(model.path)"])
            let message = Self.failure { _ = try TrainingFixture.session(config, run: run).train() }
            #expect(message.contains(model.path), "\(message)")
            #expect(message.contains("single_stream"), "the message should say what the folder holds: \(message)")
        }

        @Test("`vidtag train --out` a folder holding a run, without --resume or --force, is refused",
              .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
        func existingRunIsNotOverwritten() throws {
            let run = TrainingFixture.temporaryFolder("existing-run")
            defer { try? FileManager.default.removeItem(at: run) }
            let config = try TrainingFixture.tinyConfig()
            try Data(try config.jsonText().utf8).write(to: RunFolder(run).configURL)
            try Data("kept".utf8).write(to: run.appendingPathComponent("marker"))
            let (status, output) = try TrainingFixture.runVidtag(
                ["train", "--data", TrainingFixture.demoRoot.path, "--out", run.path])
            #expect(status != 0)
            #expect(output.contains(run.path) && output.contains("--resume") && output.contains("--force"), "\(output)")
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("marker").path))
            #expect(try RunConfig.load(RunFolder(run).configURL) == config)
        }

        @Test("`vidtag train --set` with a wrong type or an unknown key names the key",
              .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
        func badOverridesThroughTheCommand() throws {
            let run = TrainingFixture.temporaryFolder("bad-set")
            defer { try? FileManager.default.removeItem(at: run) }
            let out = run.appendingPathComponent("run").path
            let wrongType = try TrainingFixture.runVidtag(
                ["train", "--data", TrainingFixture.demoRoot.path, "--out", out, "--set", "train.epochs=three"])
            #expect(wrongType.status != 0)
            #expect(wrongType.output.contains("train.epochs"), "\(wrongType.output)")
            let unknown = try TrainingFixture.runVidtag(
                ["train", "--data", TrainingFixture.demoRoot.path, "--out", out, "--set", "train.epoch=3"])
            #expect(unknown.status != 0)
            #expect(unknown.output.contains("train.epoch=3") && unknown.output.contains("epochs"), "\(unknown.output)")
            #expect(!FileManager.default.fileExists(atPath: out), "nothing is written for a refused config")
        }
    }
}
