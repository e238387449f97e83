import Foundation

/// An SVG of the training curves: training loss (left panel) and evaluation scores (right panel).
public enum CurvePlot {
    public struct Series {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, color: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    /// The plot of a run's `metrics.jsonl`.
    public static func svg(records: [MetricsRecord], title: String) -> String {
        let losses = records.filter { $0.kind == "train" }.compactMap { r in r.values["loss"].map { (Double(r.step), $0) } }
        let evals = records.filter { $0.kind == "eval" }
        let colors = ["score": "#d62728", "level1_micro_f1": "#1f77b4", "level1_macro_f1": "#aec7e8",
                      "level2_micro_f1": "#2ca02c", "level2_macro_f1": "#98df8a"]
        let scoreSeries = colors.keys.sorted().map { key in
            Series(name: key, color: colors[key]!, points: evals.compactMap { r in r.values[key].map { (Double(r.step), $0) } })
        }.filter { !$0.points.isEmpty }
        let lossSeries = [Series(name: "train loss", color: "#333333", points: smooth(losses, window: 10))]
        let left = panel(lossSeries, title: "training loss", x: 60, width: 380, yFloor: nil)
        let right = panel(scoreSeries, title: "evaluation", x: 520, width: 380, yFloor: 0)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="960" height="380" font-family="sans-serif" font-size="12">
            <rect width="960" height="380" fill="white"/>
            <text x="480" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
            \(left)
            \(right)
            </svg>
            """
    }

    static func smooth(_ points: [(Double, Double)], window: Int) -> [(x: Double, y: Double)] {
        guard points.count > window * 2 else { return points.map { (x: $0.0, y: $0.1) } }
        return points.indices.map { i in
            let slice = points[max(0, i - window + 1)...i]
            return (x: points[i].0, y: slice.map(\.1).reduce(0, +) / Double(slice.count))
        }
    }

    static func panel(_ series: [Series], title: String, x: Double, width: Double, yFloor: Double?) -> String {
        let top = 50.0, height = 260.0
        let all = series.flatMap(\.points)
        guard !all.isEmpty else {
            return "<text x=\"\(x + width / 2)\" y=\"\(top + height / 2)\" text-anchor=\"middle\">\(title): no data yet</text>"
        }
        let xs = all.map(\.x), ys = all.map(\.y)
        let minX = xs.min()!, maxX = max(xs.max()!, minX + 1)
        var minY = yFloor ?? ys.min()!
        var maxY = ys.max()!
        if yFloor != nil { maxY = max(maxY, 1e-9); minY = min(minY, ys.min()!) }
        if maxY - minY < 1e-9 { maxY = minY + 1 }
        func px(_ v: Double) -> Double { x + (v - minX) / (maxX - minX) * width }
        func py(_ v: Double) -> Double { top + height - (v - minY) / (maxY - minY) * height }
        var out = "<text x=\"\(x + width / 2)\" y=\"\(top - 12)\" text-anchor=\"middle\">\(title)</text>\n"
        out += "<rect x=\"\(x)\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#999\"/>\n"
        for i in 0...4 {
            let v = minY + (maxY - minY) * Double(i) / 4
            out += "<text x=\"\(x - 6)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>\n"
            out += "<line x1=\"\(x)\" x2=\"\(x + width)\" y1=\"\(py(v))\" y2=\"\(py(v))\" stroke=\"#eee\"/>\n"
        }
        out += "<text x=\"\(x)\" y=\"\(top + height + 18)\">step \(Int(minX))</text>"
        out += "<text x=\"\(x + width)\" y=\"\(top + height + 18)\" text-anchor=\"end\">step \(Int(maxX))</text>\n"
        for (index, s) in series.enumerated() {
            let path = s.points.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.6\" points=\"\(path)\"/>\n"
            if s.points.count < 30 {
                for p in s.points {
                    out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", px(p.x), py(p.y), s.color)
                }
            }
            let ly = top + height + 36 + Double(index / 3) * 16
            let lx = x + Double(index % 3) * (width / 3)
            out += "<rect x=\"\(lx)\" y=\"\(ly - 9)\" width=\"10\" height=\"10\" fill=\"\(s.color)\"/>"
            out += "<text x=\"\(lx + 14)\" y=\"\(ly)\">\(escape(s.name))</text>\n"
        }
        return out
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
