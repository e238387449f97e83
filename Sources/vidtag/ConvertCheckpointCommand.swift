import ArgumentParser
import Foundation
import Torch

/// `vidtag convert-checkpoint`: a PyTorch `pytorch_model.bin` to `model.safetensors`, without Python.
struct ConvertCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-checkpoint",
        abstract: "Convert a torch.save state dict (pytorch_model.bin) into a safetensors file.",
        discussion: """
            The pickle inside the checkpoint is never executed: only tensor-rebuild records are read, and any other \
            global (os.system, builtins.eval, …) is refused with an error naming it. Keys are written as they are in \
            the file; tensors sharing a storage (tied weights) or views become separate contiguous tensors. Given a \
            folder (e.g. a Hugging Face chinese-macbert-base download), reads FOLDER/pytorch_model.bin and writes \
            FOLDER/model.safetensors beside its config.json, so that the folder loads with \
            --set model.text_encoder=FOLDER. Nothing is written unless the whole input reads correctly.
            """)

    static let pickleName = "pytorch_model.bin"
    static let safetensorsName = "model.safetensors"

    @Argument(help: "A torch.save checkpoint, or a folder holding \(Self.pickleName).") var input: String
    @Argument(help: "The safetensors file to write (default for a folder: FOLDER/\(Self.safetensorsName)).")
    var output: String?
    @Flag(help: "Replace the output file if it exists.") var overwrite = false

    func run() throws {
        try Runtime.checkVersion()
        let (source, target) = try paths()
        if FileManager.default.fileExists(atPath: target.path), !overwrite {
            throw ValidationError("\(target.path) exists: pass --overwrite to replace it")
        }
        let checkpoint = try PyTorchCheckpointFile(contentsOf: source)
        let tensors = try checkpoint.tensors()
        try SafeTensors.save(tensors, metadata: ["format": "pt"], to: target)

        var dtypes: [DType: Int] = [:]
        for entry in checkpoint.entries.values { dtypes[entry.dtype, default: 0] += 1 }
        let counts = dtypes.keys.sorted { $0.rawValue < $1.rawValue }.map { "\(dtypes[$0]!) \($0)" }
        let storages = Set(checkpoint.entries.values.map(\.storageKey)).count
        print("\(source.path): \(tensors.count) tensors (\(counts.joined(separator: ", "))) in \(storages) storages")
        print("wrote \(target.path)")
    }

    /// The checkpoint to read and the file to write.
    func paths() throws -> (source: URL, target: URL) {
        let given = URL(fileURLWithPath: input)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: given.path, isDirectory: &isFolder) else {
            throw ValidationError("\(input) does not exist")
        }
        guard isFolder.boolValue else {
            guard let output else { throw ValidationError("give the safetensors file to write: convert-checkpoint IN OUT") }
            return (given, URL(fileURLWithPath: output))
        }
        let source = given.appendingPathComponent(Self.pickleName)
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw ValidationError("\(input) is a folder without \(Self.pickleName)")
        }
        return (source, output.map { URL(fileURLWithPath: $0) } ?? given.appendingPathComponent(Self.safetensorsName))
    }
}
