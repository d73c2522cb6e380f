// LoggingOptions: where a service's logs go — its file, stderr, InfluxDB over UDP — and the
// bootstrap every executable calls once.

public import ArgumentParser
import Glibc
public import Logging
public import MeshLog
public import MeshLoop

/// Logging options common to every service; include with `@OptionGroup var logging: LoggingOptions`.
public struct LoggingOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "InfluxDB 1.x UDP listener for logs as line protocol (measurement log_event); none: no UDP.",
            valueName: "host:port"))
    public var influxUdp: String?

    @Option(help: ArgumentHelp("Largest log file before it rotates, in bytes.", valueName: "n"))
    public var logMaxFileBytes: Int = 64 << 20

    @Option(help: ArgumentHelp("Rotated log files kept.", valueName: "n"))
    public var logKeptFiles: Int = 5

    @Option(help: ArgumentHelp("Log lines per UDP datagram, at most this many bytes.", valueName: "n"))
    public var logDatagramBytes: Int = 8 * 1024

    @Flag(
        inversion: .prefixedNo,
        help: "Also write log lines to stderr (default: when stderr is a terminal).")
    public var logStderr: Bool?

    public init() {}

    public func validate() throws {
        if let influxUdp {
            guard parseInflux(influxUdp) != nil else {
                throw ValidationError("--influx-udp: \"\(influxUdp)\" is not host:port")
            }
        }
        guard logMaxFileBytes >= 4096 else { throw ValidationError("--log-max-file-bytes: at least 4096") }
        guard logKeptFiles >= 0 && logKeptFiles <= 100 else { throw ValidationError("--log-kept-files: 0...100") }
        guard logDatagramBytes >= 512 && logDatagramBytes <= 65_507 else {
            throw ValidationError("--log-datagram-bytes: 512...65507")
        }
    }

    private func parseInflux(_ text: String) -> (String, UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        var host = String(text[..<colon])
        if host.isEmpty || host == "localhost" { host = "127.0.0.1" }
        // An IPv4 literal or a name (resolved by the shipper, and again while it does not resolve).
        guard !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return (host, port)
    }

    /// Starts the log shipper (file `DATA_DIR/logs/<service>.log`, stderr, UDP) and makes it
    /// swift-log's handler for the whole process.
    ///
    /// - Parameter redact: masks recognisable personal data in every line (see `Alerts.Redactor`).
    public func bootstrap(
        service: String, dataDir: String, level: Logger.Level, redact: (@Sendable (String) -> String)?
    ) throws -> LogShipper {
        var config = LogShipper.Configuration(service: service, filePath: dataDir + "/logs/\(service).log")
        config.maxFileBytes = logMaxFileBytes
        config.keptFiles = logKeptFiles
        config.datagramBytes = logDatagramBytes
        config.stderr = logStderr ?? (isatty(2) != 0)
        config.redact = redact
        if let influxUdp, let (host, port) = parseInflux(influxUdp) {
            config.influxHost = host
            config.influxPort = port
        }
        let shipper: LogShipper
        do {
            shipper = try LogShipper(configuration: config)
        } catch {
            throw ValidationError("logging: \(error)")
        }
        LoggingSystem.bootstrap { label in MeshLogHandler(label: label, shipper: shipper, level: level) }
        return shipper
    }

    /// Reopens the log file on SIGHUP (logrotate). The watcher does not keep the loop running;
    /// close it when the service stops.
    public static func reopenOnHangup(loop: EventLoop, shipper: LogShipper) throws -> SignalWatcher {
        let watcher = try SignalWatcher(loop: loop, signal: SignalWatcher.hangup) { _ in shipper.reopen() }
        watcher.unref()
        return watcher
    }
}
