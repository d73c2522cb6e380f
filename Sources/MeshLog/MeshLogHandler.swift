// MeshLogHandler: the swift-log handler every alertmesh executable bootstraps.

public import Logging
import MeshTime

/// Captures each log call into a `LogRecord` (timestamp, level, message, merged metadata) and hands
/// it to the `LogShipper`: no formatting and no I/O on the caller's thread.
///
/// ```swift
/// LoggingSystem.bootstrap { label in MeshLogHandler(label: label, shipper: shipper) }
/// ```
public struct MeshLogHandler: LogHandler {
    public let label: String
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let shipper: LogShipper

    public init(label: String, shipper: LogShipper, level: Logger.Level = .info) {
        self.label = label
        self.shipper = shipper
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The caller's thread only gathers: formatting, sorting and conversions happen on the
        // shipper's writer thread.
        var merged: Logger.Metadata
        if metadata.isEmpty && metadataProvider == nil {
            merged = event.metadata ?? [:]
        } else {
            merged = metadata
            if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
            if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        shipper.enqueue(
            LogRecord(
                timestampNs: WallClock.nowNs(), level: event.level.rawValue, message: event.message.description,
                swiftLogMetadata: merged))
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): "[" + a.map(text).joined(separator: ",") + "]"
        case .dictionary(let d):
            "{" + d.sorted { $0.key < $1.key }.map { "\($0.key):\(text($0.value))" }.joined(separator: ",") + "}"
        }
    }
}
