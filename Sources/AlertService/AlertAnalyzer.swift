// AlertAnalyzer: the Analyze RPC — validate, detect, write the report off the loop, answer.

import AlertContract
public import Alerts
import Glibc
public import Logging
import MeshLoop
public import MeshProto
public import MeshRPC
import MeshTime
import MeshWire
import TaskPipeline

/// Serves `alertmesh.v1.AlertService/Analyze` on an `RPCServer`.
///
/// A call is validated (task id → INVALID_ARGUMENT, size → RESOURCE_EXHAUSTED; undecodable or
/// non-UTF-8 requests were already refused with INVALID_ARGUMENT by the runtime), scanned on the
/// loop (linear time, microseconds for chat-sized messages), and, when alerts fired, its report is
/// written on the thread pool (group commit: `ReportWriter`) before the answer goes out — so a
/// success means the report is on disk. A failed write answers UNAVAILABLE with the failing call, which the worker retries.
public final class AlertAnalyzer {
    public struct Configuration: Sendable {
        public var maxMessageBytes = 1 << 20
        public var maxFindings = 1_000
        public init() {}
    }

    let detector: Detector
    let store: ReportStore
    let configuration: Configuration
    let logger: Logger
    private var writer: ReportWriter?
    /// The last analyses with alerts, for /monitor (through api-service and `Recent`).
    var recent = RecentAlerts()

    public init(detector: Detector, store: ReportStore, configuration: Configuration, logger: Logger) {
        self.detector = detector
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    public func register(on server: RPCServer) {
        server.register(AlertServiceMethods.analyze) { [self] request, call in
            self.analyze(request, call, loop: server.loop)
        }
        server.register(AlertServiceMethods.recent) { [self] request, call in
            var response = Alertmesh_V1_RecentAlertsResponse()
            response.alerts = recent.newestFirst(limit: Int(request.limit))
            call.respond(response)
        }
    }

    func analyze(_ request: Alertmesh_V1_AnalyzeRequest, _ call: ServerCall, loop: EventLoop) {
        let taskID = request.taskID
        guard TaskID.isValid(taskID) else {
            return call.fail(.invalidArgument, "task_id must be \(TaskID.rule)")
        }
        var message = request.message
        let size = message.utf8.count
        guard size <= configuration.maxMessageBytes else {
            return call.fail(
                .resourceExhausted,
                "message of \(size) bytes exceeds the limit of \(configuration.maxMessageBytes) bytes")
        }
        let started = EventLoop.hrtimeNs()
        let result = message.withUTF8 {
            detector.scan(UnsafeRawBufferPointer($0), maxFindings: configuration.maxFindings)
        }
        var response = Alertmesh_V1_AnalyzeResponse()
        response.status = "processed"
        response.alerts = result.alerts.sorted.map(\.rawValue)
        response.findingsTruncated = result.findingsTruncated
        response.findings = result.findings.map { f in
            var p = Alertmesh_V1_Finding()
            p.code = f.code.rawValue
            p.offset = UInt32(f.offset)
            p.length = UInt32(f.length)
            p.byteOffset = UInt32(f.byteOffset)
            p.byteLength = UInt32(f.byteLength)
            p.masked = f.masked
            if let luhn = f.luhnValid { p.luhnValid = luhn }
            return p
        }
        // The line's metadata as one dictionary, given with the call: setting keys on a Logger
        // copy one by one grows and rehashes its dictionary for every key, on every call.
        var metadata: Logger.Metadata = [:]
        metadata.reserveCapacity(8)
        metadata["task_id"] = .string(taskID)
        metadata["bytes"] = .string(String(size))
        metadata["alerts"] = .string(response.alerts.joined(separator: ","))
        metadata["scan_us"] = .string(String((EventLoop.hrtimeNs() - started) / 1_000))
        if let attempt = call.metadata["attempt"], let n = Int(attempt) { metadata["attempt"] = .string(String(n)) }
        let logger = self.logger
        guard !result.alerts.isEmpty else {
            metadata["duration_ms"] = .string(Self.elapsedMs(since: started))
            logger.info("analyzed", metadata: metadata)
            return call.respond(response)
        }
        let content = Report.render(taskID: taskID, time: Self.timestamp(), result: result)
        if writer == nil { writer = ReportWriter(store: store, loop: loop) }
        writer!.write(
            taskID: taskID, content: content,
            done: { [self] outcome in
                switch outcome {
                case .success(let written):
                    response.report = Report.fileName(taskID: taskID)
                    self.recent.add(taskID: taskID, response: response)
                    metadata["report"] = .string(written == .written ? "written" : "existed")
                    metadata["duration_ms"] = .string(Self.elapsedMs(since: started))
                    logger.info("analyzed", metadata: metadata)
                    call.respond(response)
                case .failure(let error):
                    metadata["error"] = .string("\(error)")
                    logger.error("report write failed", metadata: metadata)
                    call.fail(.unavailable, "cannot write report: \(error)")
                }
            })
    }

    static func elapsedMs(since ns: UInt64) -> String {
        let us = (EventLoop.hrtimeNs() - ns) / 1_000
        return "\(us / 1_000).\(String(us % 1_000 / 100))"
    }

    /// RFC 3339 UTC with milliseconds (not `String(format:)`: Foundation's formatter costs more
    /// than the scan of a chat-sized message).
    static func timestamp() -> String { WallClock.rfc3339() }
}
