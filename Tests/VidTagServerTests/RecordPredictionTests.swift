import Foundation
import Testing
import VidTagData
import VidTagServer
import VidTagTraining
import ZIPFoundation

extension ServerTests {
    @Suite struct RecordPrediction {
        /// The `vidtag` executable beside the test bundle (the same build), else `.build/debug/vidtag`.
        static let binary: URL? = {
            let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
            let candidates = [bundle.deletingLastPathComponent(), bundle.deletingLastPathComponent().deletingLastPathComponent()]
                .map { $0.appendingPathComponent("vidtag") } + [ServerFixture.repository.appendingPathComponent(".build/debug/vidtag")]
            return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
        }()

        static func run(_ arguments: [String], input: Data) throws -> (status: Int32, output: String, errors: String) {
            let process = Process()
            guard let binary = Self.binary else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the vidtag binary was not found: run `swift build` first"])
            }
            process.executableURL = binary
            process.arguments = arguments
            let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            let errors = stderr.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
        }

        @Test("predict --input - reads JSON lines from standard input and answers as predict on a split without frames")
        func jsonLinesFromStandardInput() throws {
            let model = ServerFixture.featureModel
            // The same split with an empty feature zip: every video is predicted from its text alone.
            let root = ServerFixture.temporaryFolder("serve-textonly")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("zip_feats"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: ServerFixture.demoRoot.appendingPathComponent("annotations"),
                                             to: root.appendingPathComponent("annotations"))
            _ = try Archive(url: root.appendingPathComponent("zip_feats/test_a.zip"), accessMode: .create)
            let runner = try ModelRunner(model: model, device: .cpu, workers: 1, batchSize: 8)
            let (expected, _) = try runner.predict(data: DataRoot(url: root), split: "test_a")
            let labels = runner.loaded.labels

            let records = try ServerFixture.records()
            let lines = try records.map { record in
                let object: [String: Any] = ["id": record.id, "title": record.title, "asr": record.asr,
                                             "ocr": record.ocr.map { ["time": $0.time, "text": $0.text] }]
                return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            }.joined(separator: "\n") + "\n"
            let result = try Self.run(["predict", "--model", model.path, "--input", "-", "--batch-size", "5", "--workers", "2"],
                                      input: Data(lines.utf8))
            #expect(result.status == 0, "\(result.errors)")
            let answers = result.output.split(separator: "\n")
            #expect(answers.count == records.count)
            for (row, line) in answers.enumerated() {
                let answer = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let id = try #require(answer["id"] as? String)
                #expect(id == expected.ids[row])
                let probabilities = expected.probabilities[(row * expected.classes)..<((row + 1) * expected.classes)]
                let best = expected.predictedClasses[row]
                #expect(answer["category_id"] as? String == labels.level2Ids[best])
                let probability = try #require(answer["probability"] as? Double)
                #expect(abs(Float(probability) - probabilities[row * expected.classes + best]) <= 1e-5)
            }

            let bad = try Self.run(["predict", "--model", model.path, "--input", "-"], input: Data("{\"id\": \"1\"}\n{\"id\": 2}\n".utf8))
            #expect(bad.status != 0)
            #expect(bad.errors.contains("standard input") && bad.errors.contains("line 2"), "\(bad.errors)")
        }
    }
}
