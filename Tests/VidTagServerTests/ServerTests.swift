import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Testing
import Torch
import VidTagData
import VidTagServer
import VidTagTraining

/// The server tests, one at a time: each trains or loads tiny models and runs forward passes, and the
/// machine has few cores.
@Suite(.serialized) struct ServerTests {}

/// Polls `GET /healthz` until it answers 200 (the model loaded and warmed up); fails after a minute.
func waitUntilReady(_ client: some TestClientProtocol) async throws {
    for _ in 0..<1200 {
        if try await client.execute(uri: "/healthz", method: .get).status == .ok { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("the server never became ready")
}

func featureSize(of model: URL) throws -> Int {
    try JSONDecoder().decode(ModelDataSettings.self, from: Data(contentsOf: ModelFolder(model).dataSettingsURL)).featureSize
}

func labels(of model: URL) throws -> LabelSpace { try LabelSpace(contentsOf: ModelFolder(model).labelsURL) }

extension ServerTests {
    @Suite struct Prediction {
        @Test("over a real socket, every test_a video gets vidtag predict's probabilities (1e-5), level 1 their sums")
        func sameAsPredict() async throws {
            let model = ServerFixture.featureModel
            let expected = try ServerFixture.predicted(model: model)
            let labelSpace = try labels(of: model)
            let features = try ServerFixture.featureArchive(dimension: try featureSize(of: model))
            let records = try ServerFixture.records()
            #expect(records.count == expected.count && records.count > 8)
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 4, maxDelay: .milliseconds(2)))
            let body = ServerFixture.json([
                "videos": records.map { ServerFixture.video($0, features: features) }, "top_k": labelSpace.level2Count,
            ] as [String: Any])
            try await server.application().test(.live) { client in
                try await waitUntilReady(client)
                let response = try await client.execute(uri: "/v1/classify", method: .post, body: body)
                #expect(response.status == .ok)
                let answered = try ServerFixture.probabilities(response.body, labels: labelSpace.level2Ids)
                #expect(answered.count == expected.count)
                for (id, row) in expected {
                    let difference = ServerFixture.maxDifference(try #require(answered[id]), row)
                    #expect(difference <= 1e-5, "video \(id): max |server - predict| = \(difference)")
                }
                let first = try #require((try ServerFixture.object(response.body)["predictions"] as? [[String: Any]])?.first)
                let level1 = try #require(first["level1"] as? [[String: Any]])
                let firstId = try #require(first["id"] as? String)
                let row = try #require(expected[firstId])
                for entry in level1 {
                    let category = try #require(entry["category_id"] as? String)
                    let group = try #require(labelSpace.level1Index(of: category))
                    let sum = row.indices.filter { labelSpace.level1IndexOfLevel2Index[$0] == group }.map { row[$0] }.reduce(0, +)
                    #expect(abs(Float(try #require(entry["probability"] as? Double)) - sum) <= 1e-5)
                }
            }
        }

        @Test("with dtype bf16 the server computes under autocast and stays near fp32 (0.02)")
        func bfloat16StaysNearFloat32() async throws {
            let model = ServerFixture.featureModel
            let expected = try ServerFixture.predicted(model: model)
            let labelSpace = try labels(of: model)
            let features = try ServerFixture.featureArchive(dimension: try featureSize(of: model))
            let records = Array(try ServerFixture.records().prefix(4))
            let body = ServerFixture.json([
                "videos": records.map { ServerFixture.video($0, features: features) }, "top_k": labelSpace.level2Count,
            ] as [String: Any])
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 4, dtype: .bfloat16))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                let response = try await client.execute(uri: "/v1/classify", method: .post, body: body)
                #expect(response.status == .ok)
                let answered = try ServerFixture.probabilities(response.body, labels: labelSpace.level2Ids)
                #expect(answered.count == 4)
                for (id, row) in answered {
                    #expect(ServerFixture.maxDifference(row, try #require(expected[id])) <= 0.02, "video \(id)")
                }
            }
        }

        @Test("videos sent as JPEG frames to an end-to-end model get vidtag predict's probabilities (1e-5)")
        func jpegFramesSameAsPredict() async throws {
            let model = ServerFixture.frameModel
            let expected = try ServerFixture.predicted(model: model)
            let labelSpace = try labels(of: model)
            var videos: [[String: Any]] = []
            for record in try ServerFixture.records() where videos.count < 3 {
                guard let jpegs = try? ServerFixture.jpegs(id: record.id), !jpegs.isEmpty,
                      jpegs.allSatisfy({ (try? JPEG.decode($0)) != nil }) else { continue }
                videos.append(ServerFixture.video(record, jpegs: jpegs))
            }
            #expect(videos.count == 3)
            let body = ServerFixture.json(["videos": videos, "top_k": labelSpace.level2Count] as [String: Any])
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 2, maxDelay: .milliseconds(2)))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                let response = try await client.execute(uri: "/v1/classify", method: .post, body: body)
                #expect(response.status == .ok)
                let answered = try ServerFixture.probabilities(response.body, labels: labelSpace.level2Ids)
                #expect(answered.count == 3)
                for (id, row) in answered {
                    let difference = ServerFixture.maxDifference(row, try #require(expected[id]))
                    #expect(difference <= 1e-5, "video \(id): max |server - predict| = \(difference)")
                }
            }
        }
    }

    @Suite struct Batching {
        @Test("eight concurrent requests run as one batch of eight (seen in /metrics), each caller gets its own answer")
        func concurrentRequestsShareABatch() async throws {
            let model = ServerFixture.featureModel
            let expected = try ServerFixture.predicted(model: model)
            let labelSpace = try labels(of: model)
            let features = try ServerFixture.featureArchive(dimension: try featureSize(of: model))
            let records = Array(try ServerFixture.records().prefix(8))
            // A batch that waits up to a minute to fill: only eight videos queued together make it run.
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 8, maxDelay: .seconds(60)))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                let answers = try await withThrowingTaskGroup(of: (String, [String: [Float]]).self) { group in
                    for record in records {
                        var video = ServerFixture.video(record, features: features)
                        video["top_k"] = labelSpace.level2Count
                        let body = ServerFixture.json(video)
                        group.addTask {
                            let response = try await client.execute(uri: "/v1/classify", method: .post, body: body)
                            #expect(response.status == .ok)
                            return (record.id, try ServerFixture.probabilities(response.body, labels: labelSpace.level2Ids))
                        }
                    }
                    return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
                #expect(answers.count == 8)
                for (id, answer) in answers {
                    #expect(Array(answer.keys) == [id], "each caller gets its own video back")
                    let difference = ServerFixture.maxDifference(try #require(answer[id]), try #require(expected[id]))
                    #expect(difference <= 1e-5, "video \(id): max |server - predict| = \(difference)")
                }
                let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(ServerFixture.metric(metrics, "vidtag_batch_size_count") == 1)
                #expect(ServerFixture.metric(metrics, "vidtag_batch_size_sum") == 8)
                #expect(ServerFixture.metric(metrics, "vidtag_videos_total") == 8)
                #expect(ServerFixture.metric(metrics, #"vidtag_requests_total{route="/v1/classify",status="200"}"#) == 8)
            }
        }
    }
}
