// DeadLetterService: alertmesh.v1.DeadLetters on the worker's RPC address — list and re-drive.

public import AlertContract
public import MeshProto
public import MeshRPC
import MeshTime
public import TaskQueue

/// Serves the dead letters so an operator can see what failed and why, fix the cause, and send
/// the tasks through again (`rpc-probe unix:…/worker.sock call Redrive -d '{"all": true}'`).
///
/// Messages leave masked (`mask`: the detectors' masking), never in clear; the dead-letter stream
/// itself keeps the raw message, which a re-drive needs.
public final class DeadLetterService {
    public static let defaultLimit = 50
    public static let maxLimit = 1_000
    public static let maxTaskIDs = 10_000

    let deadLetters: DeadLetters
    let mask: (String) -> String

    public init(deadLetters: DeadLetters, mask: @escaping (String) -> String) {
        self.deadLetters = deadLetters
        self.mask = mask
    }

    public func register(on server: RPCServer) {
        server.register(DeadLetterMethods.list) { [self] request, call in list(request, call) }
        server.register(DeadLetterMethods.redrive) { [self] request, call in redrive(request, call) }
    }

    func list(_ request: Alertmesh_V1_ListDeadLettersRequest, _ call: ServerCall) {
        let limit = request.limit == 0 ? Self.defaultLimit : Int(request.limit)
        guard limit <= Self.maxLimit else { return call.fail(.invalidArgument, "limit: at most \(Self.maxLimit)") }
        guard request.before.isEmpty || Self.isEntryID(request.before) else {
            return call.fail(.invalidArgument, "before: an entry id such as 1733472000000-0 (a page's next_before)")
        }
        deadLetters.list(limit: limit, before: request.before.isEmpty ? nil : request.before) { [mask] result in
            switch result {
            case .success(let page):
                var r = Alertmesh_V1_ListDeadLettersResponse()
                r.total = UInt64(max(0, page.total))
                r.nextBefore = page.next ?? ""
                r.deadLetters = page.letters.map { letter in
                    var d = Alertmesh_V1_DeadLetter()
                    d.taskID = letter.taskID
                    d.attempts = UInt32(clamping: letter.attempts)
                    d.lastError = mask(letter.error)
                    d.failedAtMs = letter.failedAtMs
                    d.failedAt = Timestamp.rfc3339(ms: letter.failedAtMs)
                    d.message = mask(letter.message)
                    d.entry = letter.entry
                    return d
                }
                call.respond(r)
            case .failure(let e):
                call.fail(.unavailable, "dead letters unreadable: \(e)")
            }
        }
    }

    func redrive(_ request: Alertmesh_V1_RedriveRequest, _ call: ServerCall) {
        let selections = (request.taskIds.isEmpty ? 0 : 1) + (request.oldest == 0 ? 0 : 1) + (request.all ? 1 : 0)
        guard selections == 1 else {
            return call.fail(.invalidArgument, "give exactly one of task_ids, oldest, all")
        }
        guard request.taskIds.count <= Self.maxTaskIDs else {
            return call.fail(.invalidArgument, "task_ids: at most \(Self.maxTaskIDs) at once")
        }
        let selection: DeadLetters.Selection =
            request.all ? .all : request.oldest > 0 ? .oldest(Int(request.oldest)) : .tasks(request.taskIds)
        deadLetters.redrive(selection) { result in
            switch result {
            case .success(let outcome):
                var r = Alertmesh_V1_RedriveResponse()
                r.redriven = outcome.redriven
                r.refused = outcome.refused.map {
                    var refusal = Alertmesh_V1_RedriveRefusal()
                    refusal.taskID = $0.taskID
                    refusal.reason = $0.reason
                    return refusal
                }
                call.respond(r)
            case .failure(let e):
                call.fail(.unavailable, "re-drive failed, nothing or part re-driven (safe to repeat): \(e)")
            }
        }
    }

    /// `<ms>-<seq>`, as Redis writes stream ids.
    static func isEntryID(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.count <= 20 && $0.allSatisfy(\.isNumber) }
    }
}
