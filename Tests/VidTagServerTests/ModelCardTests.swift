import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VidTagServer

extension ServerTests {
    @Suite struct Card {
        @Test("over loopback, /model is a self-contained page linked from /, reading /v1/model's card: settings, held-out scores, per-class F1, curves")
        func modelCardOverLoopback() async throws {
            let model = ServerFixture.featureModel
            let labelSpace = try labels(of: model)
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 2))
            try await server.application().test(.live) { client in
                try await waitUntilReady(client)
                let home = String(buffer: try await client.execute(uri: "/", method: .get).body)
                #expect(home.contains("'/model'"))
                let page = try await client.execute(uri: "/model", method: .get)
                #expect(page.status == .ok)
                #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
                let html = String(buffer: page.body)
                #expect(html.contains("fetch('/v1/model')") && html.contains("/model/curves.svg"))
                for external in ["http://", "https://", "<link", "<img src"] { #expect(!html.contains(external), "\(external)") }

                let description = try ServerFixture.object(try await client.execute(uri: "/v1/model", method: .get).body)
                let card = try #require(description["card"] as? [String: Any])
                let settings = try #require(card["settings"] as? [[String]])
                #expect(settings.contains(["model.layers", "1"]), "\(settings.prefix(5))")
                #expect(card["settings_file"] as? String == "run_config.json")
                let evaluations = try #require(card["evaluations"] as? [[String: Any]])
                #expect(evaluations.count >= 1)
                let best = try #require(card["best_step"] as? Int)
                #expect(evaluations.contains { $0["step"] as? Int == best })
                let score = try #require((evaluations.last?["values"] as? [String: Any])?["score"] as? Double)
                #expect((0...1).contains(score))
                let report = try #require(card["best_report"] as? [String: Any])
                let level2 = try #require((report["level2"] as? [String: Any])?["classes"] as? [[String: Any]])
                #expect(!level2.isEmpty)
                for entry in level2 {
                    #expect(labelSpace.level2Ids.contains(try #require(entry["label"] as? String)))
                    #expect((0...1).contains(try #require(entry["f1"] as? Double)))
                }
                #expect(card["has_curves"] as? Bool == true)
                let curves = try await client.execute(uri: "/model/curves.svg", method: .get)
                #expect(curves.status == .ok)
                #expect(curves.headers[.contentType] == "image/svg+xml")
                #expect(String(buffer: curves.body).contains("<svg"))
            }
        }

        @Test("a bare model folder (no run files) gets an empty card and a 404 for the curves")
        func bareModelFolder() async throws {
            let bare = ServerFixture.temporaryFolder("serve-bare")
            for name in ["config.json", "model.safetensors", "vocab.txt", "labels.json", "data_settings.json"] {
                try FileManager.default.copyItem(at: ServerFixture.featureModel.appendingPathComponent(name),
                                                 to: bare.appendingPathComponent(name))
            }
            let server = ClassifierServer(model: bare, settings: ServeSettings(port: 0, maxBatch: 2))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                let card = try #require(try ServerFixture.object(try await client.execute(uri: "/v1/model", method: .get).body)["card"]
                    as? [String: Any])
                #expect(card["settings_file"] as? String == "config.json")
                #expect((card["evaluations"] as? [Any])?.isEmpty == true)
                #expect(card["best_report"] == nil)
                #expect(card["has_curves"] as? Bool == false)
                #expect(try await client.execute(uri: "/model/curves.svg", method: .get).status == .notFound)
            }
        }
    }
}
