import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VidTagData
import VidTagServer

/// A `multipart/form-data` body as curl and browsers write it.
struct MultipartBody {
    var boundary = "vidtag-test-\(UUID().uuidString.prefix(8))"
    var bytes = Data()

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    mutating func add(name: String, filename: String? = nil, contentType: String? = nil, _ body: Data) {
        var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\""
        if let filename { head += "; filename=\"\(filename)\"" }
        head += "\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        bytes.append(Data((head + "\r\n").utf8))
        bytes.append(body)
        bytes.append(Data("\r\n".utf8))
    }

    mutating func addVideo(_ object: [String: Any]) {
        add(name: "video", contentType: "application/json", try! JSONSerialization.data(withJSONObject: object))
    }

    mutating func addFrames(_ jpegs: [Data]) {
        for (number, jpeg) in jpegs.enumerated() {
            add(name: "frames", filename: "frame-\(number).jpg", contentType: "image/jpeg", jpeg)
        }
    }

    /// The body with its close delimiter.
    var closed: ByteBuffer { ByteBuffer(bytes: bytes + Data("--\(boundary)--\r\n".utf8)) }
}

extension ServerTests {
    @Suite struct Multipart {
        @Test("a multipart upload (video JSON part + JPEG file parts) gets the probabilities of the same video as base64 JSON")
        func multipartSameAsJSON() async throws {
            let model = ServerFixture.frameModel
            let labelSpace = try labels(of: model)
            let records = try ServerFixture.records()
            let (record, jpegs) = try #require(records.lazy.compactMap { record -> (VideoAnnotation, [Data])? in
                guard let jpegs = try? ServerFixture.jpegs(id: record.id), jpegs.count >= 2,
                      jpegs.allSatisfy({ (try? JPEG.decode($0)) != nil }) else { return nil }
                return (record, jpegs)
            }.first)
            var video = ServerFixture.video(record, jpegs: jpegs)
            video["top_k"] = labelSpace.level2Count
            var form = MultipartBody()
            var text = ServerFixture.video(record)
            text["top_k"] = labelSpace.level2Count
            form.addVideo(text)
            form.addFrames(jpegs)
            var textOnly = MultipartBody()
            textOnly.addVideo(text)
            let jsonBody = ServerFixture.json(video)
            let (formType, formBody) = (form.contentType, form.closed)
            let (textOnlyType, textOnlyBody) = (textOnly.contentType, textOnly.closed)
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 2, maxDelay: .milliseconds(1)))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                let json = try await client.execute(uri: "/v1/classify", method: .post, body: jsonBody)
                let multipart = try await client.execute(uri: "/v1/classify", method: .post,
                                                         headers: [.contentType: formType], body: formBody)
                #expect(json.status == .ok)
                #expect(multipart.status == .ok, "\(String(buffer: multipart.body))")
                let expected = try #require(try ServerFixture.probabilities(json.body, labels: labelSpace.level2Ids)[record.id])
                let answered = try #require(try ServerFixture.probabilities(multipart.body, labels: labelSpace.level2Ids)[record.id])
                #expect(ServerFixture.maxDifference(answered, expected) <= 1e-6)
                // The frames are read: without them the answer is another.
                let withoutFrames = try await client.execute(uri: "/v1/classify", method: .post,
                                                             headers: [.contentType: textOnlyType], body: textOnlyBody)
                let plain = try #require(try ServerFixture.probabilities(withoutFrames.body, labels: labelSpace.level2Ids)[record.id])
                #expect(ServerFixture.maxDifference(plain, expected) > 1e-6)
            }
        }

        @Test("malformed multipart bodies get their 4xx naming the part; the server keeps serving after each")
        func malformedMultipartIsRefused() async throws {
            let model = ServerFixture.frameModel
            let record = try #require(try ServerFixture.records().first)
            let jpeg = try #require(Data(base64Encoded: try BadRequests.base64JPEG(width: 32, height: 32)))
            let limits = ServeLimits(maxBodyBytes: 64 << 10, maxFrames: 3, maxPixels: 64 * 64)
            struct Case {
                var name: String
                var contentType: String
                var body: ByteBuffer
                var status: HTTPResponse.Status = .badRequest
                var kind: String
                var field: String?
            }
            func form(_ build: (inout MultipartBody) -> Void) -> MultipartBody {
                var body = MultipartBody()
                build(&body)
                return body
            }
            let good = form { $0.addVideo(ServerFixture.video(record)); $0.addFrames([jpeg, jpeg]) }
            // Cut inside the second frame's JPEG; then whole parts but no close delimiter (`--boundary--`).
            let truncated = ByteBuffer(bytes: good.bytes.prefix(good.bytes.count - 40))
            let noClose = ByteBuffer(bytes: good.bytes + Data("--\(good.boundary)".utf8))
            let notJPEG = form { $0.addVideo(ServerFixture.video(record)); $0.add(name: "frames", filename: "a.png", Data("hello".utf8)) }
            let tooMany = form { $0.addVideo(ServerFixture.video(record)); $0.addFrames([jpeg, jpeg, jpeg, jpeg]) }
            let badVideo = form { $0.addVideo(["title": 5]); $0.addFrames([jpeg]) }
            let unknownPart = form { $0.addVideo(["title": "a"]); $0.add(name: "frame", filename: "a.jpg", jpeg) }
            let noVideo = form { $0.addFrames([jpeg]) }
            let large = try #require(Data(base64Encoded: try BadRequests.base64JPEG(width: 80, height: 80)))
            let tooLarge = form { $0.addVideo(["title": "a"]); $0.addFrames([jpeg, large]) }
            let cases = [
                Case(name: "missing boundary", contentType: "multipart/form-data", body: good.closed, kind: "malformed_multipart",
                     field: "content-type"),
                Case(name: "another boundary than the body's", contentType: "multipart/form-data; boundary=other", body: good.closed,
                     kind: "malformed_multipart"),
                Case(name: "a part cut short", contentType: good.contentType, body: truncated, kind: "malformed_multipart",
                     field: "parts[2]"),
                Case(name: "no close delimiter", contentType: good.contentType, body: noClose, kind: "malformed_multipart",
                     field: "parts[3]"),
                Case(name: "a file that is not a JPEG", contentType: notJPEG.contentType, body: notJPEG.closed, kind: "corrupt_image",
                     field: "frames[0]"),
                Case(name: "too many frames", contentType: tooMany.contentType, body: tooMany.closed, kind: "too_many_frames",
                     field: "frames"),
                Case(name: "a JPEG over the pixel limit", contentType: tooLarge.contentType, body: tooLarge.closed,
                     kind: "image_too_large", field: "frames[1]"),
                Case(name: "a wrong type in the video part", contentType: badVideo.contentType, body: badVideo.closed,
                     kind: "invalid_field", field: "video.title"),
                Case(name: "an unknown part", contentType: unknownPart.contentType, body: unknownPart.closed, kind: "invalid_field",
                     field: "frame"),
                Case(name: "no video part", contentType: noVideo.contentType, body: noVideo.closed, kind: "invalid_field",
                     field: "video"),
                Case(name: "an oversized body", contentType: good.contentType,
                     body: ByteBuffer(bytes: good.bytes + Data(count: 70 << 10)), status: .contentTooLarge, kind: "body_too_large"),
            ]
            let (goodType, goodBytes) = (good.contentType, good.bytes + Data("--\(good.boundary)--\r\n".utf8))
            let server = ClassifierServer(model: model, settings: ServeSettings(port: 0, maxBatch: 2, maxDelay: .milliseconds(1),
                                                                                limits: limits))
            try await server.application().test(.router) { client in
                try await waitUntilReady(client)
                for bad in cases {
                    let response = try await client.execute(uri: "/v1/classify", method: .post,
                                                            headers: [.contentType: bad.contentType], body: bad.body)
                    #expect(response.status == bad.status, "\(bad.name)")
                    let error = try #require(try ServerFixture.object(response.body)["error"] as? [String: Any], "\(bad.name)")
                    #expect(error["kind"] as? String == bad.kind, "\(bad.name): \(error)")
                    #expect(error["field"] as? String == bad.field, "\(bad.name): \(error)")
                    let fine = try await client.execute(uri: "/v1/classify", method: .post,
                                                        headers: [.contentType: good.contentType], body: good.closed)
                    #expect(fine.status == .ok, "after \(bad.name): \(String(buffer: fine.body))")
                }
                // Cut anywhere, and with any one byte flipped, the body is answered (400 or 200), never a crash.
                for cut in stride(from: 0, to: goodBytes.count, by: 11) {
                    let response = try await client.execute(uri: "/v1/classify", method: .post,
                                                            headers: [.contentType: goodType], body: ByteBuffer(bytes: goodBytes.prefix(cut)))
                    // Only the close delimiter's CRLF may go (the epilogue is ignored).
                    #expect(response.status == (cut >= goodBytes.count - 2 ? .ok : .badRequest), "cut at \(cut)")
                }
                for position in stride(from: 0, to: goodBytes.count, by: 17) {
                    var flipped = goodBytes
                    flipped[position] ^= 0x5A
                    let response = try await client.execute(uri: "/v1/classify", method: .post,
                                                            headers: [.contentType: goodType], body: ByteBuffer(bytes: flipped))
                    #expect([.ok, .badRequest].contains(response.status), "byte \(position) flipped")
                }
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            }
        }

        @Test("the OpenAPI document describes the multipart form")
        func openAPIDescribesMultipart() async throws {
            let server = ClassifierServer(model: ServerFixture.featureModel, settings: ServeSettings(port: 0))
            try await Application(router: server.router()).test(.router) { client in
                let document = try ServerFixture.object(try await client.execute(uri: "/openapi.json", method: .get).body)
                let classify = (document["paths"] as? [String: Any])?["/v1/classify"] as? [String: Any]
                let content = ((classify?["post"] as? [String: Any])?["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                let multipart = try #require(content?["multipart/form-data"] as? [String: Any])
                let properties = (multipart["schema"] as? [String: Any])?["properties"] as? [String: Any]
                #expect(properties?["video"] != nil && properties?["frames"] != nil)
                #expect((document["paths"] as? [String: Any])?["/model"] != nil)
            }
        }
    }
}
