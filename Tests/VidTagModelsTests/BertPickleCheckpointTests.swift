import Foundation
import Testing
import Torch
@testable import VidTagModels

/// A `pytorch_model.bin` as older transformers wrote it (Tests/Fixtures/pickle/tiny-mlm.bin, made by
/// scripts/fixtures/make_pickle_fixtures.py from the tiny-mlm fixture) converted to safetensors and loaded
/// strictly into vidtag's BERT, which must then compute what Hugging Face computes.
@Suite struct BertPickleCheckpointTests {
    static let pickleFixtures = BertTests.repositoryRoot.appendingPathComponent("Tests/Fixtures/pickle")

    /// A text encoder folder: the tiny-mlm config.json and vocab.txt, and model.safetensors converted from the .bin.
    static func convertedFolder() throws -> TextEncoderFolder {
        let url = BertTests.temporaryFolder()
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for name in [TextEncoderFolder.configName, TextEncoderFolder.vocabularyName] {
            try FileManager.default.copyItem(at: BertTests.tinyFolder.appendingPathComponent(name),
                                             to: url.appendingPathComponent(name))
        }
        let folder = TextEncoderFolder(url)
        let tensors = try PyTorchCheckpoint.load(pickleFixtures.appendingPathComponent("tiny-mlm.bin"))
        try SafeTensors.save(tensors, metadata: ["format": "pt"], to: folder.weightsURL)
        return folder
    }

    @Test func convertedTensorsEqualTheSafetensorsCheckpoint() throws {
        let converted = try PyTorchCheckpoint.load(Self.pickleFixtures.appendingPathComponent("tiny-mlm.bin"))
        let original = try SafeTensors.load(BertTests.tinyFolder.appendingPathComponent(TextEncoderFolder.weightsName))
        let extra = Set(converted.keys).subtracting(original.keys).sorted()
        #expect(extra == ["bert.embeddings.position_ids", "cls.predictions.decoder.bias", "cls.predictions.decoder.weight"])
        for (name, tensor) in original {
            #expect(converted[name]?.rawBytes() == tensor.rawBytes(), "\(name)")
        }
        #expect(converted["cls.predictions.decoder.weight"]?.rawBytes()
            == original["bert.embeddings.word_embeddings.weight"]!.rawBytes())
        #expect(converted["bert.embeddings.position_ids"]?.toArray(Int64.self) == (0..<40).map(Int64.init))
    }

    @Test func convertedMaskedLMLoadsStrictlyAndMatchesHuggingFace() throws {
        let folder = try Self.convertedFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let expected = try BertTests.tinyExpected()
        let (model, report) = try folder.loadMaskedLM(ParameterStore().root)
        #expect(report.ignored.keys.sorted() == [
            "bert.embeddings.position_ids", "cls.predictions.decoder.bias", "cls.predictions.decoder.weight",
        ])
        let logits = try Torch.catching {
            withNoGrad {
                model.forward(inputIds: expected["input_ids"]!, attentionMask: expected["attention_mask"]!,
                              tokenTypeIds: expected["token_type_ids"]!, train: false).logits
            }
        }
        #expect(BertTests.maxAbsDifference(logits, expected["logits"]!) < 1e-5)
    }

    @Test func convertedCheckpointLoadsIntoABareEncoder() throws {
        let folder = try Self.convertedFolder()
        defer { try? FileManager.default.removeItem(at: folder.url) }
        let (model, report) = try folder.loadModel(ParameterStore().root)
        #expect(model.pooler == nil)
        #expect(report.ignored["bert.embeddings.position_ids"] != nil)
        #expect(report.loaded == 37)
    }
}
