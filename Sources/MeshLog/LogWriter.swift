// LogWriter: the writer thread's work — events redacted, formatted and handed to the sinks.

import Glibc

/// Turns batches of events into logfmt lines (file, stderr) and line-protocol points (UDP).
/// Touched only by the writer thread.
final class LogWriter: @unchecked Sendable {  // confined to the writer thread
    let configuration: LogShipper.Configuration
    private let file: LogFileSink?
    private let influx: InfluxUDPSink?
    private var lastTimestampNs: UInt64 = 0
    private var fileLines: UInt64 = 0
    private var buffer: [UInt8] = []
    private var line: [UInt8] = []
    private var point: [UInt8] = []

    init(configuration: LogShipper.Configuration) throws(LogError) {
        self.configuration = configuration
        if let path = configuration.filePath {
            file = try LogFileSink(
                path: path, maxFileBytes: configuration.maxFileBytes, keptFiles: configuration.keptFiles)
        } else {
            file = nil
        }
        influx = configuration.influxHost.map {
            InfluxUDPSink(host: $0, port: configuration.influxPort, datagramBytes: configuration.datagramBytes)
        }
    }

    func write(_ events: [LogRecord]) {
        guard !events.isEmpty else { return }
        buffer.removeAll(keepingCapacity: true)
        let wantsText = file?.isOpen == true || configuration.stderr
        for var event in events {
            event.normalize()
            if let redact = configuration.redact {
                event.message = redact(event.message)
                for i in event.metadata.indices where !configuration.redactionExempt.contains(event.metadata[i].0) {
                    event.metadata[i].1 = redact(event.metadata[i].1)
                }
            }
            // influxd overwrites points with the same series and timestamp: keep them strictly increasing.
            event.timestampNs = max(event.timestampNs, lastTimestampNs + 1)
            lastTimestampNs = event.timestampNs
            if wantsText {
                line.removeAll(keepingCapacity: true)
                LogFormat.logfmt(event, service: configuration.service, into: &line)
                if let file, file.isOpen, file.mustRotate(pending: buffer.count, adding: line.count) {
                    file.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                    file.rotate()
                }
                buffer.append(contentsOf: line)
                fileLines += 1
            }
            if let influx {
                point.removeAll(keepingCapacity: true)
                LogFormat.lineProtocol(event, service: configuration.service, host: configuration.host, into: &point)
                influx.add(point)
            }
        }
        if configuration.stderr { buffer.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) } }
        file?.write(buffer)
    }

    /// Sends the datagram being filled.
    func flush() { influx?.flush() }

    func reopen() { file?.reopen() }

    /// Adds the counters since the last call to `stats`.
    func takeStats(into stats: inout LogShipper.Stats) {
        stats.fileLines += fileLines
        fileLines = 0
        file?.takeStats(into: &stats)
        influx?.takeStats(into: &stats)
    }

    func close() {
        file?.close()
        influx?.close()
    }
}
