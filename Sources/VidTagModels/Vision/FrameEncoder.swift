import Foundation
import Torch

/// A model that turns raw frames into one vector each: `[N, 3, H, W]` normalised pixels → `[N, D]`.
///
/// Implemented by `ViTModel`, `CLIPVisionModel` and `SwinModel`. Parameters live under the encoder's
/// `path`, named as the Hugging Face checkpoint keys, in the group "visual" unless told otherwise.
public protocol FrameEncoder: AnyObject {
    /// D, the width of the pooled vector.
    var outputSize: Int { get }
    /// The input size the encoder was configured for (config.json's `image_size`).
    var imageSize: ImageSize { get }
    /// Where the parameters live.
    var path: ParameterPath { get }
    /// Encodes a batch of frames `[N, 3, H, W]` (normalised as the encoder's preprocessor says) → `[N, D]`.
    func encodeFrames(_ pixels: Tensor, train: Bool) -> Tensor
    /// Copies a Hugging Face checkpoint's tensors into the encoder, strictly.
    @discardableResult
    func load(_ tensors: [String: Tensor], source: String) throws -> CheckpointLoadReport
    /// The parameters under their Hugging Face keys (relative to `path`), detached.
    func checkpointTensors() -> [String: Tensor]
}

/// A height and a width in pixels.
public struct ImageSize: Sendable, Equatable, Codable, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }
    public init(square side: Int) { self.init(height: side, width: side) }

    public var description: String { "\(height)x\(width)" }
}

// MARK: Configs

/// A problem with a frame encoder's `config.json` or `preprocessor_config.json`: names the file (when
/// known), the key, what was expected and a hint.
public struct FrameEncoderConfigError: Error, CustomStringConvertible, Sendable {
    public var file: String?
    public let problem: String

    public init(file: String? = nil, _ problem: String) {
        self.file = file
        self.problem = problem
    }
    public var description: String { file.map { "\($0): \(problem)" } ?? problem }
}

/// Reading the Hugging Face config keys shared by the vision configs.
enum VisionConfigCoding {
    /// `image_size` / `patch_size`: an integer or a `[height, width]` pair.
    static func size<Key: CodingKey>(_ keys: KeyedDecodingContainer<Key>, _ key: Key, _ fallback: ImageSize) throws
        -> ImageSize
    {
        guard keys.contains(key) else { return fallback }
        if let side = try? keys.decode(Int.self, forKey: key) { return ImageSize(square: side) }
        if let pair = try? keys.decode([Int].self, forKey: key), pair.count == 2 {
            return ImageSize(height: pair[0], width: pair[1])
        }
        throw FrameEncoderConfigError("\(key.stringValue) must be an integer or a [height, width] pair")
    }

    static func encode<Key: CodingKey>(_ size: ImageSize, _ keys: inout KeyedEncodingContainer<Key>, _ key: Key) throws {
        if size.height == size.width { try keys.encode(size.height, forKey: key) } else {
            try keys.encode([size.height, size.width], forKey: key)
        }
    }

    static func activation(_ name: String) throws -> BertActivation {
        guard let known = BertActivation(rawValue: name) else {
            throw FrameEncoderConfigError(
                "hidden_act \"\(name)\" is not supported; expected one of "
                    + BertActivation.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return known
    }

    static func positive(_ sizes: [(String, Int)]) throws {
        for (key, size) in sizes where size <= 0 {
            throw FrameEncoderConfigError("\(key) is \(size); expected a positive integer")
        }
    }

    /// Decodes a config file, naming the file in every error.
    static func load<Config: Decodable>(_ type: Config.Type, contentsOf url: URL) throws -> Config {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FrameEncoderConfigError(file: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        return try decode(type, from: data, file: url.path)
    }

    static func decode<Config: Decodable>(_ type: Config.Type, from data: Data, file: String) throws -> Config {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch var error as FrameEncoderConfigError {
            error.file = file
            throw error
        } catch let DecodingError.typeMismatch(expected, context), let DecodingError.valueNotFound(expected, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw FrameEncoderConfigError(file: file, "key \(key): expected \(expected) (\(context.debugDescription))")
        } catch {
            throw FrameEncoderConfigError(file: file, "not a valid config.json (\(error))")
        }
    }
}

// MARK: Preprocessing

/// How frames are prepared for an encoder, read from Hugging Face's `preprocessor_config.json`: resize,
/// optional centre crop, rescale (1/255) and per-channel normalisation. Nothing here is hard-coded per
/// model: ViT's processor resizes to an exact `size` {height, width}; CLIP's resizes the shortest edge to
/// `size.shortest_edge` and centre-crops `crop_size`.
public struct FrameEncoderPreprocessing: Sendable, Equatable {
    public enum Resize: Sendable, Equatable {
        /// Scale so that the shorter side is this long, keeping the aspect ratio.
        case shortestEdge(Int)
        /// Scale to exactly this size (aspect ratio not kept).
        case exact(ImageSize)
    }

    /// nil when `do_resize` is false.
    public var resize: Resize?
    /// The centre crop, nil when `do_center_crop` is false or absent.
    public var centerCrop: ImageSize?
    /// Multiplies 0–255 pixel values (1/255 by default); 1 when `do_rescale` is false.
    public var rescaleFactor: Double
    /// Per-channel mean and standard deviation after rescaling (`image_mean`, `image_std`); nil when
    /// `do_normalize` is false.
    public var mean: [Double]?
    public var std: [Double]?

    public init(resize: Resize?, centerCrop: ImageSize?, rescaleFactor: Double = 1.0 / 255, mean: [Double]?,
                std: [Double]?) {
        self.resize = resize
        self.centerCrop = centerCrop
        self.rescaleFactor = rescaleFactor
        self.mean = mean
        self.std = std
    }

    /// The size of the frames the encoder receives (the crop, else the exact resize), nil when the processor
    /// leaves it to the image.
    public var inputSize: ImageSize? {
        if let centerCrop { return centerCrop }
        if case .exact(let size) = resize { return size }
        return nil
    }

    /// Reads a `preprocessor_config.json`; errors name the file and the key.
    public static func load(contentsOf url: URL) throws -> FrameEncoderPreprocessing {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        } catch {
            throw FrameEncoderConfigError(
                file: url.path, "cannot read a JSON object (\(error.localizedDescription)); hint: save the model's image "
                    + "processor with `AutoImageProcessor.from_pretrained(NAME).save_pretrained(FOLDER)`")
        }
        guard let object = json as? [String: Any] else {
            throw FrameEncoderConfigError(file: url.path, "expected a JSON object of image processor settings")
        }
        do {
            return try parse(object)
        } catch var error as FrameEncoderConfigError {
            error.file = url.path
            throw error
        }
    }

    static func parse(_ object: [String: Any]) throws -> FrameEncoderPreprocessing {
        func flag(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let value = object[key] else { return fallback }
            guard let flag = value as? Bool else { throw FrameEncoderConfigError("key \(key): expected true or false") }
            return flag
        }
        func size(_ key: String, allowShortestEdge: Bool) throws -> Resize? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            if let side = value as? Int { return .exact(ImageSize(square: side)) }
            if let pair = value as? [String: Any] {
                if let height = pair["height"] as? Int, let width = pair["width"] as? Int {
                    return .exact(ImageSize(height: height, width: width))
                }
                if allowShortestEdge, let edge = pair["shortest_edge"] as? Int { return .shortestEdge(edge) }
            }
            throw FrameEncoderConfigError(
                "key \(key): expected an integer or {\"height\": H, \"width\": W}"
                    + (allowShortestEdge ? " or {\"shortest_edge\": S}" : "") + ", found \(value)")
        }
        func channels(_ key: String) throws -> [Double] {
            guard let value = object[key] else {
                throw FrameEncoderConfigError(
                    "missing key \(key), which do_normalize needs; hint: the encoder's training statistics are not "
                        + "guessed, copy them from the model's own preprocessor_config.json")
            }
            if !(value is [Any]), let single = (value as? NSNumber)?.doubleValue { return [single, single, single] }
            let list = (value as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
            guard list.count == 3 else {
                throw FrameEncoderConfigError("key \(key): expected 3 numbers (one per RGB channel), found \(value)")
            }
            return list
        }

        let resize = try flag("do_resize", true) ? try size("size", allowShortestEdge: true) : nil
        var crop: ImageSize?
        if try flag("do_center_crop", false) {
            guard case .exact(let cropSize) = try size("crop_size", allowShortestEdge: false) else {
                throw FrameEncoderConfigError("do_center_crop is true but crop_size is missing")
            }
            crop = cropSize
        }
        var rescale = 1.0
        if try flag("do_rescale", true) {
            if let value = object["rescale_factor"] {
                guard let factor = (value as? NSNumber)?.doubleValue else {
                    throw FrameEncoderConfigError("key rescale_factor: expected a number, found \(value)")
                }
                rescale = factor
            } else {
                rescale = 1.0 / 255
            }
        }
        let normalize = try flag("do_normalize", true)
        return FrameEncoderPreprocessing(
            resize: resize, centerCrop: crop, rescaleFactor: rescale,
            mean: normalize ? try channels("image_mean") : nil, std: normalize ? try channels("image_std") : nil)
    }
}

// MARK: Checkpoints

enum FrameEncoderCheckpoint {
    /// `key` without `prefix` when it has it.
    static func stripping(_ prefix: String, _ key: String) -> String {
        key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : key
    }
}

// MARK: Folders

/// The configs a frame encoder folder may hold, by `model_type`.
public enum FrameEncoderConfig: Sendable, Equatable {
    case vit(ViTConfig)
    case clip(CLIPVisionConfig)
    case swin(SwinConfig)

    /// `vit`, `clip_vision_model`, `clip` (a whole CLIPModel: its `vision_config` and `projection_dim`) and
    /// `swin`.
    public static let modelTypes = ["vit", "clip_vision_model", "clip", "swin"]

    /// Reads a Hugging Face `config.json`, choosing the encoder by `model_type`.
    public static func load(contentsOf url: URL) throws -> FrameEncoderConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FrameEncoderConfigError(file: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard let object else { throw FrameEncoderConfigError(file: url.path, "expected a JSON object") }
        let modelType = object["model_type"] as? String ?? "(none)"
        switch modelType {
        case "vit": return .vit(try VisionConfigCoding.decode(ViTConfig.self, from: data, file: url.path))
        case "clip_vision_model":
            return .clip(try VisionConfigCoding.decode(CLIPVisionConfig.self, from: data, file: url.path))
        case "clip":
            guard let vision = object["vision_config"] as? [String: Any] else {
                throw FrameEncoderConfigError(file: url.path, "model_type clip without a vision_config object")
            }
            var config = try VisionConfigCoding.decode(
                CLIPVisionConfig.self, from: JSONSerialization.data(withJSONObject: vision), file: url.path)
            if let projection = object["projection_dim"] as? Int { config.projectionDim = projection }
            return .clip(config)
        case "swin": return .swin(try VisionConfigCoding.decode(SwinConfig.self, from: data, file: url.path))
        default:
            throw FrameEncoderConfigError(
                file: url.path, "model_type \(modelType) is not a frame encoder vidtag builds; expected one of "
                    + modelTypes.joined(separator: ", "))
        }
    }
}

/// A problem with a frame encoder folder: names the folder, what is wrong and what to do.
public struct FrameEncoderFolderError: Error, CustomStringConvertible, Sendable {
    public let folder: String
    public let problem: String
    public let hint: String

    public var description: String { "\(folder): \(problem)\nhint: \(hint)" }
}

/// A frame encoder on disk in Hugging Face's layout: `config.json` (its `model_type` picks ViT, CLIP or Swin),
/// `preprocessor_config.json` (size, crop, mean and std) and `model.safetensors`. Folders written by
/// `save_pretrained` of ViTModel / ViTForImageClassification, CLIPVisionModel(WithProjection) / CLIPModel and
/// SwinModel / SwinForImageClassification load as they are; task heads and CLIP's text tower are ignored and
/// reported. A pickled `pytorch_model.bin` is converted once by `vidtag convert-checkpoint FOLDER`.
public struct FrameEncoderFolder: Sendable {
    public static let configName = "config.json"
    public static let preprocessorName = "preprocessor_config.json"
    public static let weightsName = "model.safetensors"

    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var configURL: URL { url.appendingPathComponent(Self.configName) }
    public var preprocessorURL: URL { url.appendingPathComponent(Self.preprocessorName) }
    public var weightsURL: URL { url.appendingPathComponent(Self.weightsName) }

    /// Checks that the folder holds its three files.
    public func validate() throws {
        var isFolder: ObjCBool = false
        let names = [Self.configName, Self.preprocessorName, Self.weightsName]
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw FrameEncoderFolderError(folder: url.path, problem: "no such folder",
                                          hint: "pass a folder holding \(names.joined(separator: ", "))")
        }
        let missing = names.filter { !FileManager.default.fileExists(atPath: url.appendingPathComponent($0).path) }
        guard missing.isEmpty else {
            var hint = "a frame encoder folder holds \(names.joined(separator: ", ")); in Python: "
                + "`AutoModel.from_pretrained(NAME).save_pretrained(FOLDER)` and "
                + "`AutoImageProcessor.from_pretrained(NAME).save_pretrained(FOLDER)`"
            if missing.contains(Self.weightsName),
               FileManager.default.fileExists(atPath: url.appendingPathComponent("pytorch_model.bin").path) {
                hint += "; convert its pytorch_model.bin once with `vidtag convert-checkpoint \(url.path)`, "
                    + "which writes \(Self.weightsName) beside it without running the pickle"
            }
            throw FrameEncoderFolderError(folder: url.path, problem: "missing \(missing.joined(separator: ", "))",
                                          hint: hint)
        }
    }

    public func config() throws -> FrameEncoderConfig {
        try validate()
        return try FrameEncoderConfig.load(contentsOf: configURL)
    }

    public func preprocessing() throws -> FrameEncoderPreprocessing {
        try validate()
        return try FrameEncoderPreprocessing.load(contentsOf: preprocessorURL)
    }

    /// Builds the encoder `config.json` describes under `path` (group "visual") and loads the folder's weights
    /// into it, strictly. ViT gets its pooler and CLIP its visual projection exactly when the checkpoint has
    /// them.
    public func loadEncoder(_ path: ParameterPath) throws -> (encoder: any FrameEncoder, report: CheckpointLoadReport) {
        let config = try config()
        let tensors = try SafeTensors.load(weightsURL)
        let encoder: any FrameEncoder
        switch config {
        case .vit(let config):
            let hasPooler = tensors.keys.contains { ViTCheckpointKeys.map($0) == .parameter("pooler.dense.weight") }
            encoder = ViTModel(path, config: config, addPoolingLayer: hasPooler)
        case .clip(let config):
            let hasProjection = tensors.keys.contains { $0 == CLIPCheckpointKeys.projectionWeight }
            encoder = CLIPVisionModel(path, config: config, withProjection: hasProjection)
        case .swin(let config):
            encoder = SwinModel(path, config: config)
        }
        let report = try encoder.load(tensors, source: weightsURL.path)
        return (encoder, report)
    }
}
