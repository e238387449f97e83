import Foundation
import Testing
import Torch
@testable import VidTagData
@testable import VidTagModels
@testable import VidTagTraining

/// Pseudo-label folders written by hand, for the file and guard tests.
enum PseudoLabelFiles {
    static func description(split: String, classes: Int, level2Ids: [String]? = nil, topK: Int, count: Int,
                            teachers: [PseudoLabelDescription.Teacher] = [], leftOutHeldOut: Bool = false) throws -> PseudoLabelDescription {
        PseudoLabelDescription(
            split: split, dataRoot: "/nowhere", classes: classes,
            level2Ids: level2Ids ?? (0..<classes).map { String(format: "%04d", $0) }, topK: topK,
            filter: try PseudoLabelFilter(), averaging: "probabilities", weights: nil, teachers: teachers, outOfFold: false,
            leftOutHeldOut: leftOutHeldOut, videosPredicted: count, videosKept: count)
    }

    /// A set over `ids`: row r's top class is r mod classes, its second the next one, probabilities 0.5 and 0.25.
    static func set(ids: [String], split: String, labels: LabelSpace, topK: Int = 2,
                    teachers: [PseudoLabelDescription.Teacher] = [], leftOutHeldOut: Bool = false) throws -> PseudoLabelSet {
        let classes = labels.level2Count
        return PseudoLabelSet(
            description: try description(split: split, classes: classes, level2Ids: labels.level2Ids, topK: topK, count: ids.count,
                                         teachers: teachers, leftOutHeldOut: leftOutHeldOut),
            ids: ids, classes: ids.indices.flatMap { row in (0..<topK).map { Int32((row + $0) % classes) } },
            probabilities: ids.indices.flatMap { _ in (0..<topK).map { Float(0.5) / Float(1 << $0) } })
    }
}

@Suite("Pseudo-label files, filter and soft-target loss")
struct PseudoLabelFileTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-pseudo-\(UUID().uuidString.prefix(8))/labels")
    }

    @Test("a pseudo-label folder round-trips: ids, classes (uint8 or int32) and probabilities (float16)", arguments: [10, 300])
    func roundTrip(classes: Int) throws {
        let set = PseudoLabelSet(
            description: try PseudoLabelFiles.description(split: "unlabeled", classes: classes, topK: 3, count: 2),
            ids: ["123", "456"], classes: [Int32(classes - 1), 0, 7, 2, 1, 5],
            probabilities: [0.75, 0.125, 0.0625, 0.5, 0.25, 0.0078125])
        let url = Self.folder()
        try set.save(to: url)
        let file = try SafeTensorsFile(contentsOf: url.appendingPathComponent(PseudoLabelSet.tensorsName))
        #expect(file.entries["classes"]?.dtype == (classes <= 256 ? .uint8 : .int32))
        #expect(file.entries["probabilities"]?.dtype == .float16)
        let loaded = try PseudoLabelSet.load(from: url)
        #expect(loaded.ids == set.ids && loaded.classes == set.classes && loaded.probabilities == set.probabilities)
        #expect(loaded.description == set.description)
        // Saving again replaces the folder atomically (no temporary folder left behind).
        try set.save(to: url)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
        #expect(siblings == ["labels"])
    }

    @Test("the filter keeps exactly the rows over the threshold and within each predicted class's top share")
    func filter() throws {
        //                 row:   0    1    2    3    4    5    6    7
        let top: [Float] = [0.9, 0.4, 0.8, 0.6, 0.3, 0.95, 0.6, 0.7]
        let predicted: [Int32] = [0, 0, 0, 0, 1, 1, 2, 2]
        #expect(try PseudoLabelFilter().keptRows(topProbabilities: top, topClasses: predicted) == Array(0..<8))
        #expect(try PseudoLabelFilter(threshold: 0.6).keptRows(topProbabilities: top, topClasses: predicted) == [0, 2, 3, 5, 6, 7])
        // Half of each class, most confident first: class 0 keeps rows 0 and 2, class 1 row 5, class 2 row 7.
        #expect(try PseudoLabelFilter(topShare: 0.5).keptRows(topProbabilities: top, topClasses: predicted) == [0, 2, 5, 7])
        // Both: class 0's half (0, 2), class 1's (5), class 2's (7) — all over 0.75 but row 7.
        #expect(try PseudoLabelFilter(threshold: 0.75, topShare: 0.5).keptRows(topProbabilities: top, topClasses: predicted) == [0, 2, 5])
        // 0.3 of 10 rows is 3 rows, not 4 (floating point: 0.3 · 10 = 3.0000000000000004).
        let ten = (0..<10).map { Float($0) / 10 }
        #expect(try PseudoLabelFilter(topShare: 0.3).keptRows(topProbabilities: ten, topClasses: [Int32](repeating: 4, count: 10)) == [7, 8, 9])
        #expect(throws: ConfigError.self) { try PseudoLabelFilter(threshold: 1.5) }
        #expect(throws: ConfigError.self) { try PseudoLabelFilter(topShare: 0) }
    }

    /// A batch of three rows: a labelled video without a teacher row, a labelled one with one, a pseudo-labelled one.
    static func batch() throws -> Batch {
        let samples = [("a", 1), ("b", 2), ("p", -1)].enumerated().map { position, row in
            Sample(position: position, id: row.0,
                   text: EncodedText(ids: [2, 3], attentionMask: [1, 1], tokenTypeIDs: [0, 0], segmentRanges: []),
                   frames: [0], frameShape: [1], frameMask: [1], label: row.1 < 0 ? nil : row.1, report: LoadReport())
        }
        return try Batch(collating: samples, paddingID: 0)
    }

    static let logits: [[Double]] = [[1.0, 2.0, 0.5, -1.0], [0.2, -0.3, 1.5, 0.0], [2.0, 0.0, -1.0, 1.0]]

    static func output() -> ClassifierOutput {
        let tensor = Tensor(logits.flatMap { $0.map(Float.init) }, shape: [3, 4])
        return ClassifierOutput(logits: tensor, videoLogits: nil, pooled: tensor)
    }

    /// Teacher rows of "b" (classes 2, 0 at 0.5, 0.25) and "p" (classes 3, 0 at 0.5, 0.125).
    static func teacherRows() throws -> PseudoLabelSet {
        PseudoLabelSet(description: try PseudoLabelFiles.description(split: "unlabeled", classes: 4, topK: 2, count: 2),
                       ids: ["b", "p"], classes: [2, 0, 3, 0], probabilities: [0.5, 0.25, 0.5, 0.125])
    }

    static func logSoftmax(_ row: [Double], temperature: Double = 1) -> [Double] {
        let scaled = row.map { $0 / temperature }
        let peak = scaled.max()!
        let logSum = Foundation.log(scaled.map { Foundation.exp($0 - peak) }.reduce(0, +)) + peak
        return scaled.map { $0 - logSum }
    }

    /// The stored probabilities to the power 1/T, renormalised, as a dense row of 4.
    static func target(_ stored: [(Int, Double)], temperature: Double) -> [Double] {
        let powered = stored.map { Foundation.pow($0.1, 1 / temperature) }
        var row = [Double](repeating: 0, count: 4)
        for ((klass, _), value) in zip(stored, powered) { row[klass] = value / powered.reduce(0, +) }
        return row
    }

    static func kl(_ target: [Double], _ logits: [Double], temperature: Double) -> Double {
        let student = logSoftmax(logits, temperature: temperature)
        return zip(target, student).reduce(0) { $0 + ($1.0 > 0 ? $1.0 * (Foundation.log($1.0) - $1.1) : 0) }
    }

    @Test("soft-target loss: hard rows' cross-entropy and w × CE against the renormalised top-k, averaged over the batch")
    func softTargetLoss() throws {
        let loss = try SoftTargetLoss(labels: Self.teacherRows(), pseudoWeight: 0.5, distillWeight: 0, temperature: 1)
        let value = loss.loss(Self.output(), batch: try Self.batch(), objective: Objective(), device: .cpu).item()
        let ce0 = -Self.logSoftmax(Self.logits[0])[1]
        let ce1 = -Self.logSoftmax(Self.logits[1])[2]  // distillation off: "b" is a hard row despite its teacher row
        let t2 = Self.target([(3, 0.5), (0, 0.125)], temperature: 1)  // 0.8, 0.2
        let soft2 = -zip(t2, Self.logSoftmax(Self.logits[2])).reduce(0) { $0 + $1.0 * $1.1 }
        let expected = (ce0 + ce1) / 3 + 0.5 * soft2 / 3
        #expect(abs(value - expected) < 1e-5, "loss \(value), by hand \(expected)")
        #expect(loss.seen == SoftTargetLoss.SeenRows(hard: 2, distilled: 0, pseudo: 1))
        // Without teacher rows in the batch, the objective alone.
        let none = try SoftTargetLoss(labels: PseudoLabelSet(description: Self.teacherRows().description, ids: [], classes: [],
                                                             probabilities: []), pseudoWeight: 1, distillWeight: 0, temperature: 1)
        var labelled = try Self.batch()
        labelled.labels = [1, 2, 0]
        let plain = Objective().loss(Self.output(), labels: labelled.labelTensor(on: .cpu)).item()
        #expect(abs(none.loss(Self.output(), batch: labelled, objective: Objective(), device: .cpu).item() - plain) < 1e-6)
    }

    @Test("distillation: (1 − w)·CE + w·T²·KL(teacher_T ‖ student_T) on labelled rows, pseudo rows w_p·T²·KL")
    func distillationLoss() throws {
        let (w, t, wp) = (0.4, 2.0, 0.5)
        let loss = try SoftTargetLoss(labels: Self.teacherRows(), pseudoWeight: wp, distillWeight: w, temperature: t)
        let value = loss.loss(Self.output(), batch: try Self.batch(), objective: Objective(), device: .cpu).item()
        let ce0 = -Self.logSoftmax(Self.logits[0])[1]
        let ce1 = -Self.logSoftmax(Self.logits[1])[2]
        let kl1 = Self.kl(Self.target([(2, 0.5), (0, 0.25)], temperature: t), Self.logits[1], temperature: t)
        let kl2 = Self.kl(Self.target([(3, 0.5), (0, 0.125)], temperature: t), Self.logits[2], temperature: t)
        let expected = (ce0 + ((1 - w) * ce1 + w * t * t * kl1) + wp * t * t * kl2) / 3
        #expect(abs(value - expected) < 1e-5, "loss \(value), by hand \(expected)")
        #expect(loss.seen == SoftTargetLoss.SeenRows(hard: 1, distilled: 1, pseudo: 1))
        // T sharpens or softens: at T = 2 the target of "p" is (√0.5, √0.125) renormalised = (2/3, 1/3).
        let dense = loss.targetRows(["p"], temperature: t)
        #expect(abs(dense[3] - 2.0 / 3) < 1e-6 && abs(dense[0] - 1.0 / 3) < 1e-6)
    }

    /// Writes `set`, lets `damage` change the folder, and returns the error of loading it.
    func loadError(_ damage: (URL) throws -> Void, labels: LabelSpace? = nil) throws -> String {
        let url = Self.folder()
        try PseudoLabelSet(description: try PseudoLabelFiles.description(split: "unlabeled", classes: 4, topK: 2, count: 2),
                           ids: ["1", "2"], classes: [0, 1, 2, 3], probabilities: [0.5, 0.25, 0.5, 0.25]).save(to: url)
        try damage(url)
        do {
            _ = try PseudoLabelSet.load(from: url, labels: labels)
        } catch let error as PseudoLabelError {
            return error.description
        }
        Issue.record("loading the damaged folder did not fail")
        return ""
    }

    static func writeTensors(_ url: URL, _ tensors: [String: Tensor]) throws {
        try SafeTensors.save(tensors, to: url.appendingPathComponent(PseudoLabelSet.tensorsName))
    }

    @Test("bad pseudo-label files are refused with the file and the field named")
    func badFiles() throws {
        let fileManager = FileManager.default
        var message = try loadError { try fileManager.removeItem(at: $0.appendingPathComponent(PseudoLabelSet.idsName)) }
        #expect(message.contains("ids.txt") && message.contains("missing"))
        message = try loadError {
            try Self.writeTensors($0, ["classes": Tensor([Int32](repeating: 0, count: 4), shape: [2, 2])])
        }
        #expect(message.contains("pseudo_labels.safetensors, probabilities") && message.contains("missing"))
        message = try loadError {
            try Self.writeTensors($0, ["classes": Tensor([Int32](repeating: 0, count: 6), shape: [3, 2]),
                                       "probabilities": Tensor([Float](repeating: 0.5, count: 4), shape: [2, 2])])
        }
        #expect(message.contains("classes") && message.contains("[3, 2]") && message.contains("[2, 2]"))
        message = try loadError {
            try Self.writeTensors($0, ["classes": Tensor([Int32]([0, 1, 4, 0]), shape: [2, 2]),
                                       "probabilities": Tensor([Float](repeating: 0.5, count: 4), shape: [2, 2])])
        }
        #expect(message.contains("safetensors, classes") && message.contains("class 4") && message.contains("0..<4"))
        for bad in [Float(-0.1), .nan, .infinity] {
            message = try loadError {
                try Self.writeTensors($0, ["classes": Tensor([Int32]([0, 1, 2, 3]), shape: [2, 2]),
                                           "probabilities": Tensor([0.5, 0.25, bad, 0.25], shape: [2, 2])])
            }
            #expect(message.contains("safetensors, probabilities") && message.contains("row 1") && message.contains("id 2"))
        }
        message = try loadError { url in
            try Data("1\n1\n".utf8).write(to: url.appendingPathComponent(PseudoLabelSet.idsName))
        }
        #expect(message.contains("ids.txt, line 2") && message.contains("repeats"))
        message = try loadError({ _ in }, labels: try LabelSpace(for: TrainingFixture.demo))
        #expect(message.contains("pseudo_labels.json, level2_ids") && message.contains("4 classes"))
        message = try loadError { url in
            let json = url.appendingPathComponent(PseudoLabelSet.descriptionName)
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
            object.removeValue(forKey: "split")
            try JSONSerialization.data(withJSONObject: object).write(to: json)
        }
        #expect(message.contains("pseudo_labels.json, split") && message.contains("missing"))
    }
}

/// A tiny teacher trained once per test run (fold 0 of 10 held out), for the guard and mixing tests.
enum PseudoLabelTeacher {
    static let build = Result { () throws -> URL in
        let run = TrainingFixture.temporaryFolder("pseudo-teacher")
        _ = try TrainingFixture.session(try TrainingFixture.tinyConfig(["train.max_steps=4"]), run: run).train()
        return run
    }

    static var run: URL { get throws { try build.get() } }

    /// The teacher as a pseudo-label description lists it.
    static var teacher: PseudoLabelDescription.Teacher { get throws { try PseudoLabelling.teacher(try run).description } }
    static var heldOutIds: [String] { get throws { try PseudoLabelling.teacher(try run).heldOutIds } }

    /// A student run folder sharing the teacher's folds.
    static func studentFolder() throws -> URL {
        let student = TrainingFixture.temporaryFolder("pseudo-student")
        try FileManager.default.copyItem(at: RunFolder(try run).splitURL, to: RunFolder(student).splitURL)
        return student
    }

    static func labelledIds() throws -> [String] {
        var ids: [String] = []
        _ = try AnnotationReader(url: try TrainingFixture.demo.annotationsURL(split: "labeled"), labelSpace: nil, policy: .skip)
            .forEach { if $0.categoryId != nil { ids.append($0.id) } }
        return ids
    }
}

extension TrainingRunTests {
    @Suite struct PseudoLabelRuns {
        func refusal(_ set: PseudoLabelSet, extra: [String] = []) throws -> String {
            let folder = PseudoLabelFileTests.folder()
            try set.save(to: folder)
            let student = try PseudoLabelTeacher.studentFolder()
            let config = try TrainingFixture.tinyConfig(["data.pseudo_labels=\(folder.path)"] + extra)
            do {
                _ = try TrainingFixture.session(config, run: student).train()
            } catch let error as PseudoLabelError {
                // Nothing written: the run folder holds only the folds placed there.
                #expect(try FileManager.default.contentsOfDirectory(atPath: student.path) == ["folds.json"])
                return error.description
            }
            Issue.record("the run accepted pseudo-labels it should refuse")
            return ""
        }

        @Test("the guard refuses pseudo-labels of a held-out video, on the split the run evaluates on, or from a teacher of another fold")
        func heldOutGuard() throws {
            let labels = try LabelSpace(for: TrainingFixture.demo)
            let teacher = try PseudoLabelTeacher.teacher
            let heldOut = try PseudoLabelTeacher.heldOutIds
            let training = try PseudoLabelTeacher.labelledIds().filter { !heldOut.contains($0) }
            // An id of the held-out fold, in a file that otherwise claims to be clean.
            var message = try refusal(try PseudoLabelFiles.set(ids: [training[0], heldOut[3]], split: "labeled", labels: labels,
                                                              teachers: [teacher], leftOutHeldOut: true), extra: ["tricks.distill_weight=0.5"])
            #expect(message.contains("ids.txt") && message.contains("held-out fold 0") && message.contains(heldOut[3]))
            // The split the run evaluates on, without the held-out videos left out.
            message = try refusal(try PseudoLabelFiles.set(ids: Array(training.prefix(5)), split: "labeled", labels: labels),
                                  extra: ["tricks.distill_weight=0.5"])
            #expect(message.contains("pseudo_labels.json, split") && message.contains("evaluates on"))
            // A teacher that held out another fold trained on this run's held-out videos.
            var other = teacher
            other.heldOutFold = 3
            other.heldOutFingerprint = PseudoLabelSet.fingerprint(of: training.prefix(20))
            message = try refusal(try PseudoLabelFiles.set(ids: Array(training.prefix(5)), split: "labeled", labels: labels,
                                                           teachers: [other], leftOutHeldOut: true), extra: ["tricks.distill_weight=0.5"])
            #expect(message.contains("pseudo_labels.json, teachers") && message.contains("fold 3") && message.contains("leak"))
            // Ids that are not videos of the split.
            message = try refusal(try PseudoLabelFiles.set(ids: ["no-such-video"], split: "unlabeled", labels: labels))
            #expect(message.contains("ids.txt, line 1") && message.contains("no-such-video"))
        }

        @Test("training mixes the pseudo-labelled videos into every epoch and never evaluates on them")
        func mixesPseudoLabels() throws {
            let folder = PseudoLabelFileTests.folder()
            let labelling = try PseudoLabelling(
                selection: ModelSelection(models: [try PseudoLabelTeacher.run.path]), data: try TrainingFixture.demo,
                split: "unlabeled", topK: 3, filter: PseudoLabelFilter(), workers: 1, batchSize: 32)
            let labels = try labelling.run()
            try labels.save(to: folder)
            #expect(labels.count == 60 && labels.description.teachers.count == 1 && !labels.description.leftOutHeldOut)
            // The training fold and the 60 pseudo-labelled videos, in whole batches: one epoch, every video once.
            let heldOut = try PseudoLabelTeacher.heldOutIds
            let training = try PseudoLabelTeacher.labelledIds().count - heldOut.count
            let videos = training + 60
            let batchSize = [16, 20, 12, 15, 10, 8, 6, 5, 4, 3, 2, 1].first { videos % $0 == 0 }!
            var session = try TrainingFixture.session(
                try TrainingFixture.tinyConfig(["data.pseudo_labels=\(folder.path)", "data.pseudo_weight=0.5",
                                                "train.batch_size=\(batchSize)", "train.max_steps=\(videos / batchSize)",
                                                "train.eval_every=0"]),
                run: try PseudoLabelTeacher.studentFolder())
            var trainer: Trainer?
            session.prepare = { trainer = $0 }
            let outcome = try session.train()
            let seen = try #require(trainer?.softTargets?.seen)
            #expect(seen.pseudo == 60 && seen.hard == training && seen.distilled == 0, "rows seen: \(seen)")
            let predictions = try #require(outcome.predictions)
            let pseudoIds = Set(labels.ids)
            #expect(!predictions.ids.contains(where: pseudoIds.contains))
            #expect(predictions.count == heldOut.count && Set(predictions.ids) == Set(heldOut))
        }

        @Test("distillation on the labelled split: the teacher's held-out fold is left out, the student trains on the rest")
        func distillsOnLabelledSplit() throws {
            let folder = PseudoLabelFileTests.folder()
            let labels = try PseudoLabelling(
                selection: ModelSelection(models: [try PseudoLabelTeacher.run.path]), data: try TrainingFixture.demo,
                split: "labeled", topK: 5, filter: PseudoLabelFilter(), workers: 1, batchSize: 32).run()
            try labels.save(to: folder)
            let heldOut = Set(try PseudoLabelTeacher.heldOutIds)
            let training = try PseudoLabelTeacher.labelledIds().count - heldOut.count
            #expect(labels.description.leftOutHeldOut && labels.count == training && !labels.ids.contains(where: heldOut.contains))
            var session = try TrainingFixture.session(
                try TrainingFixture.tinyConfig(["data.pseudo_labels=\(folder.path)", "tricks.distill_weight=0.5",
                                                "tricks.distill_temperature=2", "train.max_steps=3", "train.eval_every=0"]),
                run: try PseudoLabelTeacher.studentFolder())
            var trainer: Trainer?
            session.prepare = { trainer = $0 }
            _ = try session.train()
            let seen = try #require(trainer?.softTargets?.seen)
            #expect(seen.distilled == 48 && seen.pseudo == 0 && seen.hard == 0, "rows seen: \(seen)")
        }
    }
}
