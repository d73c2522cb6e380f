// AnalyzeProcessor: one attempt of a task = one Analyze call to an alert-service.

import AlertContract
import MeshProto
public import MeshRPC
import MeshWire
public import TaskPipeline
public import TaskQueue

/// Runs an attempt by calling `alertmesh.v1.AlertService/Analyze` over the mesh RPC (across every
/// endpoint the client knows), with a deadline per attempt and the task id and attempt number in
/// the request metadata, and classifies failures as transient or permanent.
///
/// The alert-service writes its report under the task id with create-if-absent semantics, so an
/// attempt that runs twice (a reclaimed task whose first worker was only slow) leaves one report.
public final class AnalyzeProcessor {
    public let client: RPCClient
    public var attemptTimeoutMs: UInt64

    public init(client: RPCClient, attemptTimeoutMs: UInt64 = 10_000) {
        self.client = client
        self.attemptTimeoutMs = attemptTimeoutMs
    }

    public func process(_ delivery: Delivery, _ done: @escaping (AttemptOutcome) -> Void) {
        var request = Alertmesh_V1_AnalyzeRequest()
        request.taskID = delivery.taskID
        request.message = delivery.message
        let metadata: Metadata = ["task-id": delivery.taskID, "attempt": String(delivery.attempt)]
        client.call(AlertServiceMethods.analyze, request, metadata: metadata, timeoutMs: attemptTimeoutMs) { result in
            switch result {
            case .success(let response): done(.success(result: AnalyzeProcessor.result(of: response).json()))
            case .failure(let error): done(AnalyzeProcessor.classify(error))
            }
        }
    }

    /// The stored result of an Analyze answer (findings arrive masked).
    static func result(of response: Alertmesh_V1_AnalyzeResponse) -> TaskResult {
        TaskResult(
            status: response.status.isEmpty ? "processed" : response.status,
            alerts: response.alerts,
            findings: response.findings.map {
                TaskResult.Finding(
                    code: $0.code, masked: $0.masked, offset: Int($0.offset), length: Int($0.length),
                    luhnValid: $0.hasLuhnValid ? $0.luhnValid : nil)
            },
            findingsTruncated: response.findingsTruncated)
    }

    /// Which failures are worth another attempt. Bad input will not get better; a missing, busy,
    /// slow or crashing peer may.
    public static func classify(_ error: RPCError) -> AttemptOutcome {
        // No service saw it: an outage (or overload) of the service, not an attempt of the task.
        if error.notProcessed { return .unprocessed("\(error)") }
        return switch error.code {
        case .invalidArgument, .unimplemented, .notFound, .failedPrecondition, .outOfRange, .permissionDenied,
            .unauthenticated, .alreadyExists, .dataLoss:
            .permanent("\(error)")
        default:
            .transient("\(error)")
        }
    }
}
