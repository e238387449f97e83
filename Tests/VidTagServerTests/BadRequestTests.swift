import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VidTagData
import VidTagServer

extension ServerTests {
    /// Bad requests get the right 4xx with a JSON body naming the field, and the server keeps serving.
    @Suite struct BadRequests {
        struct Case: CustomTestStringConvertible, Sendable {
            var name: String
            var method: HTTPRequest.Method = .post
            var uri = "/v1/classify"
            var body: String
            var status: HTTPResponse.Status
            var kind: String
            var field: String?
            var testDescription: String { name }
        }

        static let limits = ServeLimits(maxBodyBytes: 64 << 10, maxVideos: 3, maxFrames: 6, maxPixels: 64 * 64,
                                        maxTextBytes: 4 << 10)

        static func rows(_ count: Int, width: Int) -> String {
            "[" + Array(repeating: "[" + Array(repeating: "0.5", count: width).joined(separator: ",") + "]", count: count)
                .joined(separator: ",") + "]"
        }

        static func base64JPEG(width: Int, height: Int) throws -> String {
            let image = RGBImage(width: width, height: height, pixels: [UInt8](repeating: 128, count: width * height * 3))
            return try JPEG.encode(image).base64EncodedString()
        }

        static func cases(featureSize: Int) throws -> [Case] {
            [
                Case(name: "malformed JSON", body: #"{"title": "a""#, status: .badRequest, kind: "malformed_json"),
                Case(name: "a number for a string", body: #"{"title": 5}"#, status: .badRequest, kind: "invalid_field",
                     field: "title"),
                Case(name: "a list for a string, in a list", body: #"{"videos": [{"title": "a"}, {"asr": ["x"]}]}"#,
                     status: .badRequest, kind: "invalid_field", field: "videos[1].asr"),
                Case(name: "an OCR time that is not an integer", body: #"{"ocr": [{"time": "soon", "text": "x"}]}"#,
                     status: .badRequest, kind: "invalid_field", field: "ocr[0].time"),
                Case(name: "a misspelt field", body: #"{"videos": [{"titel": "a"}]}"#, status: .badRequest,
                     kind: "invalid_field", field: "videos[0].titel"),
                Case(name: "an empty list", body: #"{"videos": []}"#, status: .badRequest, kind: "invalid_field",
                     field: "videos"),
                Case(name: "too many videos", body: #"{"videos": [{}, {}, {}, {}]}"#, status: .badRequest,
                     kind: "too_many_videos", field: "videos"),
                Case(name: "top_k of 0", body: #"{"title": "a", "top_k": 0}"#, status: .badRequest, kind: "invalid_field",
                     field: "top_k"),
                Case(name: "an oversized body", body: #"{"title": ""# + String(repeating: "x", count: 70 << 10) + #""}"#,
                     status: .contentTooLarge, kind: "body_too_large"),
                Case(name: "a title over the text limit", body: #"{"title": ""# + String(repeating: "y", count: 5 << 10) + #""}"#,
                     status: .badRequest, kind: "text_too_long", field: "title"),
                Case(name: "too many frames", body: #"{"frame_features": \#(rows(7, width: featureSize))}"#,
                     status: .badRequest, kind: "too_many_frames", field: "frame_features"),
                Case(name: "feature rows of the wrong width", body: #"{"frame_features": \#(rows(2, width: 3))}"#,
                     status: .badRequest, kind: "invalid_field", field: "frame_features[0]"),
                Case(name: "frames that are not base64", body: #"{"videos": [{"frames": ["%%%"]}]}"#,
                     status: .badRequest, kind: "invalid_field", field: "videos[0].frames[0]"),
                Case(name: "a frame that is not a JPEG", body: #"{"frames": ["aGVsbG8gd29ybGQ="]}"#,
                     status: .badRequest, kind: "corrupt_image", field: "frames[0]"),
                Case(name: "a JPEG over the pixel limit", body: #"{"frames": ["\#(try base64JPEG(width: 80, height: 80))"]}"#,
                     status: .badRequest, kind: "image_too_large", field: "frames[0]"),
                Case(name: "JPEG frames for a features model", body: #"{"frames": ["\#(try base64JPEG(width: 32, height: 32))"]}"#,
                     status: .badRequest, kind: "wrong_frame_kind", field: "frames"),
                Case(name: "an unknown route", method: .get, uri: "/v2/classify", body: "", status: .notFound, kind: "not_found"),
                Case(name: "GET on the classify route", method: .get, body: "", status: .notFound, kind: "not_found"),
            ]
        }

        @Test("each bad request gets its 4xx and kind naming the field; a good request still succeeds after each")
        func badRequestsAreRefusedAndServingGoesOn() async throws {
            let model = ServerFixture.featureModel
            let cases = try Self.cases(featureSize: try featureSize(of: model))
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 2, maxDelay: .milliseconds(1),
                                                                                limits: Self.limits))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                for bad in cases {
                    let response = try await client.execute(
                        uri: bad.uri, method: bad.method, body: bad.body.isEmpty ? nil : ByteBuffer(string: bad.body))
                    #expect(response.status == bad.status, "\(bad.name)")
                    let error = try #require(try ServerFixture.object(response.body)["error"] as? [String: Any], "\(bad.name)")
                    #expect(error["kind"] as? String == bad.kind, "\(bad.name): \(error)")
                    #expect(error["field"] as? String == bad.field, "\(bad.name): \(error)")
                    #expect(!((error["message"] as? String) ?? "").isEmpty, "\(bad.name)")
                    let good = try await client.execute(uri: "/v1/classify", method: .post,
                                                        body: ByteBuffer(string: #"{"title": "新闻", "asr": "今天"}"#))
                    #expect(good.status == .ok, "after \(bad.name)")
                }
                let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(ServerFixture.metric(metrics, #"vidtag_errors_total{kind="malformed_json"}"#) == 1)
                #expect(ServerFixture.metric(metrics, #"vidtag_errors_total{kind="invalid_field"}"#) == 8)
                #expect(ServerFixture.metric(metrics, #"vidtag_errors_total{kind="not_found"}"#) == 2)
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            }
        }

        @Test("a JPEG that breaks off after its header is refused as corrupt, naming the frame")
        func truncatedJPEGIsRefused() async throws {
            let model = ServerFixture.frameModel
            let record = try #require(try ServerFixture.records().first)
            let good = try Self.base64JPEG(width: 48, height: 40)
            let whole = try #require(Data(base64Encoded: good))
            let truncated = whole.prefix(whole.count / 2).base64EncodedString()
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 2, maxDelay: .milliseconds(1)))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                var video = ServerFixture.video(record)
                video["frames"] = [good, truncated]
                let response = try await client.execute(uri: "/v1/classify", method: .post, body: ServerFixture.json(video))
                #expect(response.status == .badRequest)
                let error = try #require(try ServerFixture.object(response.body)["error"] as? [String: Any])
                #expect(error["kind"] as? String == "corrupt_image")
                #expect(error["field"] as? String == "frames[1]")
                video["frames"] = [good, good]
                let fine = try await client.execute(uri: "/v1/classify", method: .post, body: ServerFixture.json(video))
                #expect(fine.status == .ok)
            }
        }
    }
}
