import Foundation
import Testing

@testable import VidTagData
@testable import VidTagDemo

@Suite("Scale data")
struct ScaleDataTests {
    @Test("a stored zip of more than 65,535 members gets ZIP64 end records that FeatureArchive reads back")
    func zip64MemberCount() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-zip64-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("many.zip")
        let writer = try StoredZipWriter(url: url)
        let count = 70_000
        for index in 0..<count {
            let values: [Float] = [Float(index % 1000), 1]
            try writer.add(name: "\(ScaleDataBuilder.generatedId(index)).npy",
                           data: Npy.encode(values: values, shape: [1, 2], dtype: .float16))
        }
        try writer.finish()
        let archive = try FeatureArchive(url: url)
        #expect(archive.count == count)
        for index in [0, 65_534, 65_535, 69_999] {
            let features = try archive.features(id: ScaleDataBuilder.generatedId(index))
            #expect(features.values == [Float(index % 1000), 1])
        }
        #expect(ScaleDataBuilder.generatedId(42) == "9000000000000000042")
    }
}
