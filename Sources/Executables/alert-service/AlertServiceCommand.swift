// alert-service: analyses messages for alerts and writes masked reports (thin: config + wiring).

import AlertContract
import AlertService
import Alerts
import ArgumentParser
import Foundation
import Logging
import MeshLoop
import MeshOptions
import MeshRPC

@main
struct AlertServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert-service",
        abstract: "Analyse messages for leaked personal data and fraud wording; write a masked report per hit.",
        discussion: """
            Serves alertmesh.v1.AlertService/Analyze plus the built-in _sys methods. Without --listen it \
            listens on unix:DATA_DIR/alert-service.sock. Every option can also be set as \
            ALERTMESH_<OPTION>; a flag beats the environment.
            """)

    @OptionGroup var common: ServiceOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var tls: TLSOptions
    @OptionGroup var loopOptions: LoopOptions

    @Option(help: ArgumentHelp("Where reports are written (default: DATA_DIR/error_reports).", valueName: "dir"))
    var reportsDir: String?

    @Option(
        help: ArgumentHelp("A rules file (keywords and detectors); the built-in rules otherwise.", valueName: "file"))
    var rules: String?

    @Option(help: "Largest message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.")
    var maxMessageBytes: Int = 1 << 20

    @Option(help: "Most findings listed per message (the alerts are always complete).")
    var maxFindings: Int = 1_000

    @Option(help: "On SIGTERM/SIGINT, how long in-flight calls may take to finish, in ms.")
    var shutdownGraceMs: UInt64 = 10_000

    static func main() { mainWithEnvironment() }

    func validate() throws {
        guard maxMessageBytes > 0 && maxMessageBytes <= 15 << 20 else {
            throw ValidationError("--max-message-bytes: must be between 1 and 15728640")
        }
        guard maxFindings >= 0 else { throw ValidationError("--max-findings: must not be negative") }
        try tls.check(common.endpoints, option: "--listen")
    }

    func run() throws {
        let redactor = Redactor()
        let shipper = try logging.bootstrap(
            service: "alert-service", dataDir: common.dataDir, level: common.level, redact: { redactor.redact($0) })
        defer { shipper.shutdown() }
        let logger = Logger(label: "alert-service")
        let ruleSet: Rules
        if let path = rules {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--rules: cannot read \(path)")
            }
            do {
                ruleSet = try Rules(parsing: String(decoding: data, as: UTF8.self))
            } catch {
                throw ValidationError("--rules: \(path): \(error)")
            }
        } else {
            ruleSet = .default
        }
        let store: ReportStore
        do {
            store = try ReportStore(directory: reportsDir ?? common.dataDir + "/error_reports")
        } catch {
            throw ValidationError("--reports-dir: \(error)")
        }
        let loop = try EventLoop()
        try loopOptions.apply(to: loop)
        var config = RPCServer.Configuration(name: "alert-service")
        config.tls = try tls.context()
        config.accessPolicy = AlertServiceMethods.accessPolicy
        config.maxFrame = UInt32(max(4 << 20, maxMessageBytes + (64 << 10)))
        FileLimit.raise(forConnections: config.maxConnections, logger: logger)
        let server = try RPCServer(loop: loop, configuration: config, logger: logger)
        var analyzerConfig = AlertAnalyzer.Configuration()
        analyzerConfig.maxMessageBytes = maxMessageBytes
        analyzerConfig.maxFindings = maxFindings
        AlertAnalyzer(detector: Detector(rules: ruleSet), store: store, configuration: analyzerConfig, logger: logger)
            .register(on: server)
        let endpoints =
            common.endpoints.isEmpty ? [Endpoint.unix(path: common.dataDir + "/alert-service.sock")] : common.endpoints
        for endpoint in endpoints {
            do {
                try server.listen(on: endpoint)
            } catch {
                throw ValidationError("--listen: \(error)")
            }
        }
        let hangup = try LoggingOptions.reopenOnHangup(loop: loop, shipper: shipper)
        server.figuresProvider = { shipper.stats.figures() }
        let shutdown = ServiceShutdown(loop: loop, logger: logger, shipper: shipper, graceMs: shutdownGraceMs)
        // Stop listening, GOAWAY, let calls in flight finish; a second signal closes at once.
        shutdown.drain = { grace, done in server.shutdown(graceMs: grace, done) }
        shutdown.hurry = { server.shutdownNow() }
        shutdown.close = { hangup.close() }
        logger.notice(
            "alert-service ready",
            metadata: ["endpoints": "\(server.endpoints.map(\.description))", "reports": "\(store.directory)"])
        try shutdown.run()
        try loop.close()
    }
}
