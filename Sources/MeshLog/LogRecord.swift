// LogRecord: one log event as captured on the caller's thread.

import Logging

/// One log event, as captured on the caller's thread (formatting happens later, off the hot path).
public struct LogRecord: Sendable {
    public var timestampNs: UInt64
    public var level: String
    public var message: String
    /// Key–value pairs in the order they are written.
    public var metadata: [(String, String)]
    /// swift-log metadata as the caller passed it; the writer thread turns it into `metadata`
    /// (sorted by key), so the caller pays for neither the sort nor the conversions.
    var swiftLogMetadata: Logger.Metadata?

    public init(timestampNs: UInt64, level: String, message: String, metadata: [(String, String)]) {
        self.timestampNs = timestampNs
        self.level = level
        self.message = message
        self.metadata = metadata
    }

    init(timestampNs: UInt64, level: String, message: String, swiftLogMetadata: Logger.Metadata) {
        self.timestampNs = timestampNs
        self.level = level
        self.message = message
        self.metadata = []
        self.swiftLogMetadata = swiftLogMetadata
    }

    /// Moves `swiftLogMetadata` into `metadata` (on the writer thread).
    mutating func normalize() {
        guard let m = swiftLogMetadata else { return }
        swiftLogMetadata = nil
        metadata.reserveCapacity(m.count)
        for (key, value) in m { metadata.append((key, MeshLogHandler.text(value))) }
        metadata.sort { $0.0 < $1.0 }
    }
}
