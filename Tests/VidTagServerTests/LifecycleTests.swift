import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing
import VidTagData
import VidTagServer

extension ServerTests {
    @Suite struct Lifecycle {
        @Test("/healthz and /v1/classify answer 503 until the model is loaded and warmed up, then 200")
        func notReadyBeforeWarmUp() async throws {
            let server = ClassifierServer(model: ServerFixture.featureModel, settings: ServeSettings(port: 0))
            // The routes without the model service: nothing loads the model until the test says so.
            let application = Application(router: server.router())
            try await application.test(.router) { client in
                let health = try await client.execute(uri: "/healthz", method: .get)
                #expect(health.status == .serviceUnavailable)
                #expect(try ServerFixture.object(health.body)["status"] as? String == "loading")
                let early = try await client.execute(uri: "/v1/classify", method: .post, body: ByteBuffer(string: #"{"title": "a"}"#))
                #expect(early.status == .serviceUnavailable)
                #expect(early.headers[.retryAfter] == "1")
                #expect((try ServerFixture.object(early.body)["error"] as? [String: Any])?["kind"] as? String == "not_ready")

                try await server.prepare()
                let ready = try await client.execute(uri: "/healthz", method: .get)
                #expect(ready.status == .ok)
                #expect(try ServerFixture.object(ready.body)["status"] as? String == "ready")
            }
        }

        @Test("the page at / and the OpenAPI document need nothing from outside, and answer before the model is ready")
        func pageAndDocument() async throws {
            let server = ClassifierServer(model: ServerFixture.featureModel, settings: ServeSettings(port: 0))
            try await Application(router: server.router()).test(.router) { client in
                let page = try await client.execute(uri: "/", method: .get)
                #expect(page.status == .ok)
                #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
                let html = String(buffer: page.body)
                #expect(html.contains("/v1/classify") && html.contains("<form"))
                for external in ["http://", "https://", "<link", "src="] { #expect(!html.contains(external), "\(external)") }
                let document = try ServerFixture.object(try await client.execute(uri: "/openapi.json", method: .get).body)
                #expect(document["openapi"] as? String == "3.1.0")
                #expect((document["paths"] as? [String: Any])?["/v1/classify"] != nil)
            }
        }

        @Test("a full queue answers 503 with Retry-After, a request queued past its timeout 504, and serving goes on")
        func queueLimitAndTimeout() async throws {
            // Batches would wait a minute to fill: requests stay queued until the test flushes them.
            let limits = ServeLimits(maxQueuedVideos: 2, requestTimeout: .milliseconds(1))
            let server = ClassifierServer(model: ServerFixture.featureModel,
                                          settings: ServeSettings(port: 0, maxBatch: 64, maxDelay: .seconds(60), limits: limits))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                let queued = Task {
                    try await client.execute(uri: "/v1/classify", method: .post,
                                             body: ByteBuffer(string: #"{"videos": [{"title": "一"}, {"title": "二"}]}"#))
                }
                for _ in 0..<1200 {
                    if await server.scheduler.queuedVideos == 2 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let refused = try await client.execute(uri: "/v1/classify", method: .post, body: ByteBuffer(string: #"{"title": "三"}"#))
                #expect(refused.status == .serviceUnavailable)
                #expect(refused.headers[.retryAfter] == "1")
                #expect((try ServerFixture.object(refused.body)["error"] as? [String: Any])?["kind"] as? String == "queue_full")

                try await Task.sleep(for: .milliseconds(5))  // past the queued request's 1 ms timeout
                await server.scheduler.flush()
                let late = try await queued.value
                #expect(late.status == .gatewayTimeout)
                #expect((try ServerFixture.object(late.body)["error"] as? [String: Any])?["kind"] as? String == "timeout")
                #expect(await server.scheduler.queuedVideos == 0)
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            }
        }

        @Test("a graceful shutdown answers every request in flight over real sockets, then stops")
        func shutdownDrainsRequestsInFlight() async throws {
            let model = ServerFixture.featureModel
            let expected = try ServerFixture.predicted(model: model)
            let labelSpace = try labels(of: model)
            let records = Array(try ServerFixture.records().prefix(5))
            let features = try ServerFixture.featureArchive(dimension: try featureSize(of: model))
            // A batch would wait a minute to fill up to 64: only the shutdown's flush runs these five.
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 64, maxDelay: .seconds(60)))
            let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
            let application = server.application { channel in
                if let port = channel.localAddress?.port { portSink.yield(port) }
            }
            var logger = Logger(label: "vidtag.serve.test")
            logger.logLevel = .warning
            let group = server.serviceGroup(application, signals: [], logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let port = try #require(await ports.first { _ in true })
                try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                    for _ in 0..<1200 {
                        if try await client.get("/healthz").status == .ok { break }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                #expect(server.state.phase == .ready)
                let answers = Task {
                    try await withThrowingTaskGroup(of: (String, HTTPResponse.Status, [String: [Float]]).self) { requests in
                        for record in records {
                            var video = ServerFixture.video(record, features: features)
                            video["top_k"] = labelSpace.level2Count
                            let body = ServerFixture.json(video)
                            requests.addTask {
                                try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                                    let response = try await client.post("/v1/classify", body: body)
                                    let rows = response.status == .ok
                                        ? try ServerFixture.probabilities(try #require(response.body), labels: labelSpace.level2Ids) : [:]
                                    return (record.id, response.status, rows)
                                }
                            }
                        }
                        return try await requests.reduce(into: []) { $0.append($1) }
                    }
                }
                for _ in 0..<1200 {
                    if await server.scheduler.queuedVideos >= records.count { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(await server.scheduler.queuedVideos == records.count, "all five wait in the queue")
                await group.triggerGracefulShutdown()
                let results = try await answers.value
                #expect(results.count == records.count)
                for (id, status, rows) in results {
                    #expect(status == .ok, "video \(id) was answered during the shutdown")
                    if let row = rows[id] { #expect(ServerFixture.maxDifference(row, try #require(expected[id])) <= 1e-5) }
                }
                try await tasks.waitForAll()
            }
            #expect(server.state.phase == .stopped)
        }
    }
}
