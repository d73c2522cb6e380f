// APIHandler+DeadLetters: the monitor's dead letters — listed and re-driven through a worker's
// alertmesh.v1.DeadLetters methods (api-service is the only HTTP speaker; it relays over RPC).

import AlertContract
import FoundationEssentials
import MeshHTTP
import MeshProto
import MeshRPC

extension APIHandler {
    /// GET /monitor/api/dead-letters: the newest 50, without their messages (the monitor shows no
    /// message text, masked or not).
    func deadLetters(_ respond: @escaping (HTTPResponse) -> Void) {
        var request = Alertmesh_V1_ListDeadLettersRequest()
        request.limit = 50
        relayToWorker(DeadLetterMethods.list, request, respond) { [configuration] answer in
            let rows = answer.deadLetters.map {
                MonitorDeadLetter(
                    taskID: $0.taskID, attempts: Int($0.attempts), lastError: $0.lastError, failedAt: $0.failedAt)
            }
            return MonitorDeadLetters(
                total: Int(answer.total), deadLetters: rows, redriveEnabled: configuration.monitorAdmin)
        }
    }

    /// POST /monitor/api/dead-letters/redrive `{"task_ids": [...]}` or `{"all": true}`: only with
    /// `--monitor-admin`, and only as JSON (a cross-site form cannot send that without a preflight).
    func redrive(_ request: HTTPRequest, _ respond: @escaping (HTTPResponse) -> Void) {
        guard configuration.monitorAdmin else {
            return respond(
                .error(403, "re-driving from the monitor is off; start api-service with --monitor-admin to allow it"))
        }
        guard request.headers["Content-Type"]?.lowercased().hasPrefix("application/json") == true else {
            return respond(.error(415, "send the re-drive request as application/json"))
        }
        struct Body: Decodable {
            var taskIDs: [String]?
            var all: Bool?
            enum CodingKeys: String, CodingKey {
                case taskIDs = "task_ids"
                case all
            }
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(request.body)),
            body.all == true || !(body.taskIDs ?? []).isEmpty
        else { return respond(.error(422, #"expected {"task_ids": ["…"]} or {"all": true}"#)) }
        var rpc = Alertmesh_V1_RedriveRequest()
        rpc.taskIds = body.taskIDs ?? []
        rpc.all = body.all ?? false
        relayToWorker(DeadLetterMethods.redrive, rpc, respond) { answer in
            MonitorRedrive(redriven: answer.redriven, refused: answer.refused.map { [$0.taskID, $0.reason] })
        }
    }

    /// Calls `method` on the first worker that answers (any worker serves the shared dead-letter
    /// stream); 503 when none does.
    private func relayToWorker<Request, Answer, Out: Encodable>(
        _ method: RPCMethod<Request, Answer>, _ request: Request, _ respond: @escaping (HTTPResponse) -> Void,
        _ convert: @escaping (Answer) -> Out
    ) {
        let workers = scraper?.clients(of: "worker") ?? []
        func attempt(_ index: Int, _ lastError: String) {
            guard index < workers.count else {
                return respond(
                    .error(
                        503, "no worker answered (\(lastError)); api-service reaches workers through --scrape",
                        headers: unavailableHeaders))
            }
            workers[index].call(method, request, timeoutMs: 5_000) { result in
                switch result {
                case .success(let answer):
                    respond(Self.monitorJSON(convert(answer)))
                case .failure(let error):
                    attempt(index + 1, "\(error)")
                }
            }
        }
        attempt(0, "no worker is scraped yet")
    }
}

struct MonitorDeadLetter: Encodable {
    var taskID: String
    var attempts: Int
    var lastError: String
    var failedAt: String
    enum CodingKeys: String, CodingKey {
        case taskID = "task_id"
        case attempts, lastError, failedAt
    }
}

struct MonitorDeadLetters: Encodable {
    var total: Int
    var deadLetters: [MonitorDeadLetter]
    var redriveEnabled: Bool
}

struct MonitorRedrive: Encodable {
    var redriven: [String]
    /// [task id, why], for each task not re-driven.
    var refused: [[String]]
}
