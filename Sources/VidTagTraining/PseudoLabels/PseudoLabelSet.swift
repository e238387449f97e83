import Foundation
import Torch
import VidTagData

/// Soft labels of a split's videos: the `top_k` most probable classes a teacher (or a teacher ensemble) gave
/// each kept video, with their probabilities, and where they came from. Written by `vidtag pseudo-label`,
/// read by training (`data.pseudo_labels`). On disk a folder, the one owner of these names:
/// ```
/// pseudo_labels.json          the description (``PseudoLabelDescription``)
/// ids.txt                     one video id a line, in row order
/// pseudo_labels.safetensors   classes        [N, K] uint8 (≤ 256 classes) or int32, level-2 class indices
///                             probabilities  [N, K] float16, each row falling
/// ```
/// The probabilities are the teachers' (averaged) probabilities of those classes, not renormalised: a row
/// sums to at most 1, the rest of the mass lies on classes not stored.
public struct PseudoLabelSet: Sendable {
    public var description: PseudoLabelDescription
    public var ids: [String]
    /// Row-major `[count, topK]` class indices.
    public var classes: [Int32]
    /// Row-major `[count, topK]` probabilities.
    public var probabilities: [Float]

    public init(description: PseudoLabelDescription, ids: [String], classes: [Int32], probabilities: [Float]) {
        self.description = description
        self.ids = ids
        self.classes = classes
        self.probabilities = probabilities
    }

    public var count: Int { ids.count }
    public var topK: Int { description.topK }

    /// Row `row`'s classes and probabilities, most probable first.
    public func row(_ row: Int) -> (classes: ArraySlice<Int32>, probabilities: ArraySlice<Float>) {
        let range = (row * topK)..<((row + 1) * topK)
        return (classes[range], probabilities[range])
    }

    public static let descriptionName = "pseudo_labels.json"
    public static let idsName = "ids.txt"
    public static let tensorsName = "pseudo_labels.safetensors"

    /// Writes the folder atomically: into a sibling temporary folder, which then replaces `folder` (an older
    /// pseudo-label folder there is replaced; any other folder is refused).
    public func save(to folder: URL) throws {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            let previous = folder.appendingPathComponent(Self.descriptionName)
            guard isDirectory.boolValue, fileManager.fileExists(atPath: previous.path) else {
                throw PseudoLabelError(file: folder.path, field: nil,
                                       problem: "exists and is not a pseudo-label folder", hint: "choose another --out")
            }
        }
        let parent = folder.deletingLastPathComponent()
        try fileManager.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(folder.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? fileManager.removeItem(at: temporary)
        try fileManager.createDirectory(at: temporary, withIntermediateDirectories: false)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(description).write(to: temporary.appendingPathComponent(Self.descriptionName))
            try Data(ids.map { $0 + "\n" }.joined().utf8).write(to: temporary.appendingPathComponent(Self.idsName))
            let classTensor = description.classes <= 256
                ? Tensor(classes.map { UInt8(truncatingIfNeeded: $0) }, shape: [count, topK])
                : Tensor(classes, shape: [count, topK])
            try SafeTensors.save(
                ["classes": classTensor, "probabilities": Tensor(probabilities.map { Float16($0) }, shape: [count, topK])],
                metadata: ["format": PseudoLabelDescription.formatName], to: temporary.appendingPathComponent(Self.tensorsName))
            if fileManager.fileExists(atPath: folder.path) { try fileManager.removeItem(at: folder) }
            try fileManager.moveItem(at: temporary, to: folder)
        } catch {
            try? fileManager.removeItem(at: temporary)
            throw error
        }
    }

    /// Reads and checks a pseudo-label folder: every member present, shapes that agree, class indices within
    /// the description's class count, finite non-negative probabilities, no id twice. With `labels`, the
    /// classes must be those of the label space (same level-2 ids in the same order).
    public static func load(from folder: URL, labels: LabelSpace? = nil) throws -> PseudoLabelSet {
        let descriptionURL = folder.appendingPathComponent(descriptionName)
        let idsURL = folder.appendingPathComponent(idsName)
        let tensorsURL = folder.appendingPathComponent(tensorsName)
        for url in [descriptionURL, idsURL, tensorsURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw PseudoLabelError(file: url.path, field: nil, problem: "missing",
                                   hint: "a pseudo-label folder holds \(descriptionName), \(idsName) and \(tensorsName), "
                                       + "as `vidtag pseudo-label --out` writes it")
        }
        let description: PseudoLabelDescription
        do {
            description = try JSONDecoder().decode(PseudoLabelDescription.self, from: Data(contentsOf: descriptionURL))
        } catch let DecodingError.keyNotFound(key, _) {
            throw PseudoLabelError(file: descriptionURL.path, field: key.stringValue, problem: "missing", hint: "")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw PseudoLabelError(file: descriptionURL.path, field: context.codingPath.map(\.stringValue).joined(separator: "."),
                                   problem: "has the wrong type (\(context.debugDescription))", hint: "")
        } catch {
            throw PseudoLabelError(file: descriptionURL.path, field: nil, problem: "not readable as JSON (\(error))", hint: "")
        }
        guard description.format == PseudoLabelDescription.formatName, description.version == 1 else {
            throw PseudoLabelError(file: descriptionURL.path, field: "format",
                                   problem: "'\(description.format)' version \(description.version)",
                                   hint: "expected '\(PseudoLabelDescription.formatName)' version 1")
        }
        guard description.topK >= 1 else {
            throw PseudoLabelError(file: descriptionURL.path, field: "top_k", problem: "is \(description.topK)", hint: "expected 1 or more")
        }
        guard description.level2Ids.count == description.classes else {
            throw PseudoLabelError(file: descriptionURL.path, field: "level2_ids",
                                   problem: "lists \(description.level2Ids.count) classes but classes is \(description.classes)", hint: "")
        }
        if let labels, labels.level2Ids != description.level2Ids {
            throw PseudoLabelError(
                file: descriptionURL.path, field: "level2_ids",
                problem: "\(description.classes) classes that are not this data set's \(labels.level2Count) (in order)",
                hint: "pseudo-label with teachers trained on this data set's label space")
        }
        let ids = try String(contentsOf: idsURL, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
        var seen = Set<String>(minimumCapacity: ids.count)
        for (line, id) in ids.enumerated() where id.isEmpty || !seen.insert(id).inserted {
            throw PseudoLabelError(file: idsURL.path, field: "line \(line + 1)",
                                   problem: id.isEmpty ? "is empty" : "repeats id \(id)", hint: "one distinct video id a line")
        }
        let file = try SafeTensorsFile(contentsOf: tensorsURL)
        for name in ["classes", "probabilities"] where file.entries[name] == nil {
            throw PseudoLabelError(file: tensorsURL.path, field: name, problem: "missing",
                                   hint: "expected tensors classes and probabilities, [N, top_k] each")
        }
        let expectedShape = [ids.count, description.topK]
        for name in ["classes", "probabilities"] where file.entries[name]!.shape != expectedShape {
            throw PseudoLabelError(file: tensorsURL.path, field: name, problem: "has shape \(file.entries[name]!.shape)",
                                   hint: "expected \(expectedShape): \(ids.count) ids in \(idsName), top_k \(description.topK)")
        }
        guard description.videosKept == ids.count else {
            throw PseudoLabelError(file: descriptionURL.path, field: "videos_kept", problem: "is \(description.videosKept)",
                                   hint: "\(idsName) lists \(ids.count) videos")
        }
        let classEntry = file.entries["classes"]!
        guard [.uint8, .int32, .int64].contains(classEntry.dtype) else {
            throw PseudoLabelError(file: tensorsURL.path, field: "classes", problem: "has dtype \(classEntry.dtype)",
                                   hint: "expected uint8 or int32 class indices")
        }
        let classes = try file.tensor("classes").to(.int32).toArray(Int32.self)
        let probabilityEntry = file.entries["probabilities"]!
        guard probabilityEntry.dtype.isFloatingPoint else {
            throw PseudoLabelError(file: tensorsURL.path, field: "probabilities", problem: "has dtype \(probabilityEntry.dtype)",
                                   hint: "expected float16 or float32")
        }
        let probabilities = try file.tensor("probabilities").to(.float32).toArray(Float.self)
        if let bad = classes.firstIndex(where: { $0 < 0 || Int($0) >= description.classes }) {
            throw PseudoLabelError(file: tensorsURL.path, field: "classes",
                                   problem: "row \(bad / description.topK) (id \(ids[bad / description.topK])) has class \(classes[bad])",
                                   hint: "expected 0..<\(description.classes)")
        }
        if let bad = probabilities.firstIndex(where: { !$0.isFinite || $0 < 0 || $0 > 1.001 }) {
            throw PseudoLabelError(file: tensorsURL.path, field: "probabilities",
                                   problem: "row \(bad / description.topK) (id \(ids[bad / description.topK])) has \(probabilities[bad])",
                                   hint: "expected finite probabilities in [0, 1]")
        }
        for row in 0..<ids.count where probabilities[(row * description.topK)..<((row + 1) * description.topK)].reduce(0, +) <= 0 {
            throw PseudoLabelError(file: tensorsURL.path, field: "probabilities", problem: "row \(row) (id \(ids[row])) sums to 0",
                                   hint: "every kept video needs some probability on its stored classes")
        }
        return PseudoLabelSet(description: description, ids: ids, classes: classes, probabilities: probabilities)
    }

    /// A fingerprint of a set of video ids (order does not matter): FNV-1a (64 bit) of the sorted ids, one a line.
    public static func fingerprint<Ids: Sequence>(of ids: Ids) -> String where Ids.Element == String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids.sorted() {
            for byte in id.utf8 + [UInt8(ascii: "\n")] {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
        }
        return "fnv1a64:" + String(hash, radix: 16)
    }
}

/// `pseudo_labels.json`: what a pseudo-label folder holds and how it was made.
public struct PseudoLabelDescription: Codable, Sendable, Equatable {
    public static let formatName = "vidtag-pseudo-labels"

    /// A model whose predictions the pseudo-labels average, and what it trained on.
    public struct Teacher: Codable, Sendable, Equatable {
        /// The model folder.
        public var path: String
        /// The split it trained on (its `data.train_split`).
        public var trainSplit: String
        /// The fold of its `folds.json` it held out; nil when it trained on its whole split.
        public var heldOutFold: Int?
        /// How many videos it held out, and their ``PseudoLabelSet/fingerprint(of:)``.
        public var heldOutVideos: Int
        public var heldOutFingerprint: String?

        public init(path: String, trainSplit: String, heldOutFold: Int?, heldOutVideos: Int, heldOutFingerprint: String?) {
            self.path = path
            self.trainSplit = trainSplit
            self.heldOutFold = heldOutFold
            self.heldOutVideos = heldOutVideos
            self.heldOutFingerprint = heldOutFingerprint
        }

        enum CodingKeys: String, CodingKey {
            case path, trainSplit = "train_split", heldOutFold = "held_out_fold", heldOutVideos = "held_out_videos"
            case heldOutFingerprint = "held_out_fingerprint"
        }
    }

    public var format = formatName
    public var version = 1
    /// The split pseudo-labelled, and the data root it was read from.
    public var split: String
    public var dataRoot: String
    /// The level-2 class count, and the ids in class order.
    public var classes: Int
    public var level2Ids: [String]
    public var topK: Int
    public var filter: PseudoLabelFilter
    /// How the teachers' probabilities were combined (`probabilities` or `logits` averaging), with weights.
    public var averaging: String
    public var weights: [Double]?
    public var teachers: [Teacher]
    /// Each video was predicted by the one teacher that held it out (K-fold out-of-fold predictions).
    public var outOfFold: Bool
    /// Videos a teacher held out of this split were left out (the split is a teacher's training split).
    public var leftOutHeldOut: Bool
    /// Videos the teachers predicted, and those the filter kept (the rows).
    public var videosPredicted: Int
    public var videosKept: Int

    public init(split: String, dataRoot: String, classes: Int, level2Ids: [String], topK: Int, filter: PseudoLabelFilter,
                averaging: String, weights: [Double]?, teachers: [Teacher], outOfFold: Bool, leftOutHeldOut: Bool,
                videosPredicted: Int, videosKept: Int) {
        self.split = split
        self.dataRoot = dataRoot
        self.classes = classes
        self.level2Ids = level2Ids
        self.topK = topK
        self.filter = filter
        self.averaging = averaging
        self.weights = weights
        self.teachers = teachers
        self.outOfFold = outOfFold
        self.leftOutHeldOut = leftOutHeldOut
        self.videosPredicted = videosPredicted
        self.videosKept = videosKept
    }

    enum CodingKeys: String, CodingKey {
        case format, version, split, dataRoot = "data_root", classes, level2Ids = "level2_ids", topK = "top_k", filter
        case averaging, weights, teachers, outOfFold = "out_of_fold", leftOutHeldOut = "left_out_held_out"
        case videosPredicted = "videos_predicted", videosKept = "videos_kept"
    }
}

/// A pseudo-label folder that cannot be used: the file, the field, what is wrong and what was expected.
public struct PseudoLabelError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var field: String?
    public var problem: String
    public var hint: String

    public init(file: String, field: String?, problem: String, hint: String) {
        self.file = file
        self.field = field
        self.problem = problem
        self.hint = hint
    }

    public var description: String {
        let place = field.map { "\(file), \($0)" } ?? file
        return "pseudo-labels \(place): \(problem)" + (hint.isEmpty ? "" : "; \(hint)")
    }
}
