import Foundation
import Testing
@testable import VidTagTraining

/// The run config: defaults that round-trip, overrides that apply, strict keys and types, checked enums.
@Suite struct ConfigTests {
    static func failure(_ overrides: [String]) -> String {
        do {
            _ = try RunConfig.resolve(overrides: overrides)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("the defaults round-trip through their JSON (the run folder's run_config.json)")
    func defaultsRoundTrip() throws {
        let folder = TrainingFixture.temporaryFolder("config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("run_config.json")
        try Data(try RunConfig().jsonText().utf8).write(to: url)
        #expect(try RunConfig.load(url) == RunConfig())
        #expect(try RunConfig.resolve() == RunConfig())

        let changed = try RunConfig.resolve(overrides: ["model.kind=baseline", "tricks.adversarial_keys=[\"a\",\"b\"]"])
        try Data(try changed.jsonText().utf8).write(to: url)
        #expect(try RunConfig.load(url) == changed)
    }

    @Test("`vidtag print-config` prints the defaults, which read back unchanged",
          .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
    func printConfig() throws {
        let (status, output) = try TrainingFixture.runVidtag(["print-config"])
        #expect(status == 0, "\(output)")
        #expect(output == (try RunConfig().jsonText()) + "\n")
        let folder = TrainingFixture.temporaryFolder("print-config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        try Data(output.utf8).write(to: url)
        #expect(try RunConfig.load(url) == RunConfig())

        let (_, changed) = try TrainingFixture.runVidtag(["print-config", "--set", "train.epochs=7", "--set", "seed=3"])
        try Data(changed.utf8).write(to: url)
        let config = try RunConfig.load(url)
        #expect(config.train.epochs == 7 && config.seed == 3)
    }

    @Test("overrides apply in order, over a config file, for every value type")
    func overridesApply() throws {
        let folder = TrainingFixture.temporaryFolder("config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("config.json")
        try Data(#"{"train": {"epochs": 9, "batch_size": 8}, "model": {"kind": "baseline"}}"#.utf8).write(to: file)
        let config = try RunConfig.resolve(file: file, overrides: [
            "train.epochs=5", "seed=7", "data.validation_fraction=0.2", "train.text_learning_rate=1",
            "model.pooling=cls", "model.vocabulary=/tmp/some folder/vocab", "tricks.adversarial_keys=[\"x.weight\"]",
            "train.epochs=6",
        ])
        var expected = RunConfig()
        expected.train.epochs = 6
        expected.train.batchSize = 8
        expected.model.kind = .baseline
        expected.seed = 7
        expected.data.validationFraction = 0.2
        expected.train.textLearningRate = 1
        expected.model.pooling = .cls
        expected.model.vocabulary = "/tmp/some folder/vocab"
        expected.tricks.adversarialKeys = ["x.weight"]
        #expect(config == expected)
    }

    @Test("a wrong type names the key and the expected type")
    func wrongType() {
        let word = Self.failure(["train.epochs=three"])
        #expect(word.contains("train.epochs") && word.contains("Int"), "\(word)")
        let fraction = Self.failure(["train.batch_size=2.5"])
        #expect(fraction.contains("train.batch_size"), "\(fraction)")
        let list = Self.failure(["tricks.adversarial_keys=3"])
        #expect(list.contains("tricks.adversarial_keys"), "\(list)")
    }

    @Test("an unknown key names the key and the known ones; a section cannot be set whole")
    func unknownKeys() throws {
        let unknown = Self.failure(["train.epoch=3"])
        #expect(unknown.contains("train.epoch=3") && unknown.contains("'epoch'") && unknown.contains("epochs"), "\(unknown)")
        let topLevel = Self.failure(["trian.epochs=3"])
        #expect(topLevel.contains("'trian'") && topLevel.contains("train"), "\(topLevel)")
        let section = Self.failure(["train=3"])
        #expect(section.contains("'train' is a section"), "\(section)")
        let noValue = Self.failure(["train.epochs"])
        #expect(noValue.contains("key.path=value"), "\(noValue)")

        let folder = TrainingFixture.temporaryFolder("config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("config.json")
        try Data(#"{"train": {"epochs": 2, "warmup": 0.1}}"#.utf8).write(to: file)
        do {
            _ = try RunConfig.resolve(file: file)
            Issue.record("an unknown key in a config file must be refused")
        } catch {
            #expect("\(error)".contains(file.path) && "\(error)".contains("train.warmup"), "\(error)")
        }
    }

    @Test("validate() rejects values outside each key's choices, naming key and choices",
          arguments: [
              ("model.kind=transformer", "model.kind"), ("model.modalities=audio", "model.modalities"),
              ("model.pooling=max", "model.pooling"), ("train.schedule=step", "train.schedule"),
              ("train.precision=fp8", "train.precision"), ("data.frame_source=video", "data.frame_source"),
              ("data.bad_record_policy=ignore", "data.bad_record_policy"),
              ("tricks.class_weighting=inverse", "tricks.class_weighting"), ("tricks.ema_decay=1.5", "tricks.ema_decay"),
              ("train.batch_size=0", "train.batch_size"), ("model.heads=5", "model.heads"),
              ("data.validation_fraction=1", "data.validation_fraction"),
          ])
    func validateRejects(override: String, key: String) {
        let message = Self.failure([override])
        #expect(message.contains(key), "\(override): \(message)")
    }

    @Test("FGM and PGD together are refused")
    func adversarialExclusive() {
        let message = Self.failure(["tricks.fgm_epsilon=1", "tricks.pgd_steps=3"])
        #expect(message.contains("fgm_epsilon") && message.contains("pgd_steps"), "\(message)")
    }
}
