import Foundation

/// A data set's folder, laid out as the WeChat challenge ships it:
/// ```
/// annotations/{split}.json
/// zip_feats/{split}.zip                       one "{id}.npy" member per video
/// zip_frames/{split}/{id[-3:]}/{id}.zip       JPEG frames of one video
/// ```
/// Split names are free-form strings (`labeled`, `unlabeled`, `test_a`, ...).
public struct DataRoot: Sendable, Equatable {
    public let url: URL

    public init(url: URL) { self.url = url.standardizedFileURL }
    public init(path: String) { self.init(url: URL(fileURLWithPath: path)) }

    /// `annotations/{split}.json`, which must exist.
    public func annotationsURL(split: String) throws -> URL {
        try existing(url.appendingPathComponent("annotations/\(split).json"), split: split, what: "annotation file",
                     siblings: "annotations", suffix: ".json")
    }

    /// `zip_feats/{split}.zip`, which must exist.
    public func featuresURL(split: String) throws -> URL {
        try existing(url.appendingPathComponent("zip_feats/\(split).zip"), split: split, what: "frame feature zip",
                     siblings: "zip_feats", suffix: ".zip")
    }

    /// `zip_frames/{split}`, which must exist as a folder.
    public func framesFolderURL(split: String) throws -> URL {
        try existing(url.appendingPathComponent("zip_frames/\(split)"), split: split, what: "frame zip folder",
                     siblings: "zip_frames", suffix: "", directory: true)
    }

    /// `zip_frames/{split}/{last three characters of id}/{id}.zip` (not checked for existence).
    public func frameZipURL(split: String, id: String) -> URL {
        url.appendingPathComponent("zip_frames/\(split)/\(id.suffix(3))/\(id).zip")
    }

    /// Whether the split has an annotation file.
    public func hasAnnotations(split: String) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent("annotations/\(split).json").path)
    }

    /// Split names that have an annotation file, sorted.
    public func annotatedSplits() -> [String] { splits(in: "annotations", suffix: ".json", directories: false) }

    private func splits(in folder: String, suffix: String, directories: Bool) -> [String] {
        let folderURL = url.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folderURL.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folderURL.appendingPathComponent(name).path, isDirectory: &isDirectory)
            return isDirectory.boolValue == directories && name.hasSuffix(suffix) && !name.hasPrefix(".")
        }
        .map { String($0.dropLast(suffix.count)) }
        .sorted()
    }

    private func existing(
        _ candidate: URL, split: String, what: String, siblings: String, suffix: String, directory: Bool = false
    ) throws -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory),
            isDirectory.boolValue == directory
        {
            return candidate
        }
        throw DataRootError.missingSplit(
            root: url.path, split: split, what: what, lookedFor: candidate.path,
            available: splits(in: siblings, suffix: suffix, directories: directory))
    }
}

/// A data root without the file a split needs.
public enum DataRootError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingSplit(root: String, split: String, what: String, lookedFor: String, available: [String])

    public var description: String {
        switch self {
        case .missingSplit(let root, let split, let what, let lookedFor, let available):
            let choices = available.isEmpty ? "none found" : available.joined(separator: ", ")
            return "data root \(root) has no \(what) for split '\(split)': looked for \(lookedFor); "
                + "splits present: \(choices). Check --data and the split name (e.g. labeled, test_a)."
        }
    }
}
