import VidTagData
/// How the demo's classes are told apart: the level-1 class is a news topic (decided by the text), and
/// child `k` of a level-1 class shows digit `k` in every frame (so only the frames decide level 2).
///
/// The classes are the real WeChat 2022 ids of the first ten level-1 groups ('00'…'09', with 9 5 9 6 6 3
/// 3 6 6 8 children: 61 level-2 classes), so ``LabelSpace/wechat2022`` applies to the demo data, and class
/// sizes follow those groups' real labelled counts (from 2,186 videos for '0402' down to 30 for '0001').
public struct DemoLabelPlan: Sendable, Equatable {
    /// One level-2 class of the demo.
    public struct DemoClass: Sendable, Equatable {
        /// The WeChat level-2 id, e.g. "0402".
        public var level2Id: String
        /// Its level-1 id ("04").
        public var level1Id: String
        /// Index into ``DemoMaterial/topicNames`` of the topic its text is drawn from.
        public var topicIndex: Int
        /// The digit its frames show.
        public var digit: Int
        /// The class's count among the 100,000 labelled WeChat videos: the weight of its share.
        public var realCount: Int
    }

    /// The classes in label-space order.
    public let classes: [DemoClass]

    /// The plan over the first `groups` level-1 classes of `labelSpace` (at most 10 children each kept).
    public init(labelSpace: LabelSpace = .wechat2022, groups: Int = 10) {
        var classes: [DemoClass] = []
        for level1Index in 0..<min(groups, labelSpace.level1Count, DemoMaterial.topicNames.count) {
            let children = labelSpace.level2Ids.indices.filter { labelSpace.level1IndexOfLevel2Index[$0] == level1Index }
            for (childNumber, level2Index) in children.prefix(10).enumerated() {
                classes.append(DemoClass(
                    level2Id: labelSpace.level2Ids[level2Index], level1Id: labelSpace.level1Ids[level1Index],
                    topicIndex: level1Index, digit: childNumber,
                    realCount: labelSpace.level2Counts?[level2Index] ?? 1))
            }
        }
        self.classes = classes
    }

    /// Videos per class for a split of `total` videos: shares proportional to ``DemoClass/realCount``,
    /// rounded by largest remainder (ties to the lower class index), summing to `total`.
    public func allocation(total: Int) -> [Int] {
        let weightSum = classes.reduce(0) { $0 + $1.realCount }
        guard weightSum > 0, total > 0 else { return [Int](repeating: 0, count: classes.count) }
        var counts = classes.map { total * $0.realCount / weightSum }
        let remainders = classes.indices.map { (total * classes[$0].realCount) % weightSum }
        let order = classes.indices.sorted { remainders[$0] != remainders[$1] ? remainders[$0] > remainders[$1] : $0 < $1 }
        for index in order.prefix(total - counts.reduce(0, +)) { counts[index] += 1 }
        return counts
    }

    /// The demo's own label space: its level-2 ids with the given per-class counts.
    public func labelSpace(counts: [Int]? = nil) throws -> LabelSpace {
        try LabelSpace(level2Ids: classes.map(\.level2Id), level2Counts: counts, source: "demo label plan")
    }
}
