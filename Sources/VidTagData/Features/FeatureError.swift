/// A feature zip or `.npy` member that cannot be read: which file, which member, what is wrong and a hint.
public struct FeatureError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case unreadable, notAZip, unsupportedZip, missingMember, duplicateMember, unsupportedCompression, corruptMember
        case notNpy, unsupportedVersion, fortranOrder, objectDType, bigEndian, unsupportedDType
        case wrongRank, wrongDimension, truncated, trailingBytes, nonFinite
    }

    public var kind: Kind
    /// The zip (or `.npy` file) path.
    public var source: String
    /// The member name inside the zip, when the problem is one member's.
    public var member: String?
    public var problem: String
    public var hint: String

    public var description: String {
        let location = member.map { "\(source), member \($0)" } ?? source
        return hint.isEmpty ? "\(location): \(problem)" : "\(location): \(problem). Hint: \(hint)"
    }
}
