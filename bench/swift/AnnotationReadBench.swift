import ArgumentParser
import Foundation
import VidTagData

/// `vidtag-bench annotations`: records per second (and, through bench/annotations.sh, peak memory)
/// streaming an `annotations/{split}.json` file with ``AnnotationReader``, against Python's `json.load`
/// of the whole file in bench/python/annotation_read_bench.py.
struct AnnotationReadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotations", abstract: "Records per second read from an annotation file (see bench/annotations.sh).")

    @Option(help: "The annotation file.")
    var file: String

    @Flag(help: "Keep every record in memory (as training does) instead of only counting.")
    var keep = false

    func run() throws {
        let start = Date()
        var kept: [VideoAnnotation] = []
        var characters = 0
        let report = try AnnotationReader(url: URL(fileURLWithPath: file), labelSpace: .wechat2022).forEach { record in
            characters += record.title.utf8.count + record.asr.utf8.count + record.ocr.count
            if keep { kept.append(record) }
        }
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "records_per_second=%.1f records=%d kept=%d text_bytes=%d", Double(report.recordsKept) / seconds,
                     report.recordsKept, kept.count, characters))
    }
}
