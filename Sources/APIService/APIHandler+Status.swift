// APIHandler+Status: GET /status/{task_id} and GET /readyz — answers read from Redis.

import MeshHTTP
import MeshJSON
import MeshTime
import TaskPipeline
import TaskQueue

extension APIHandler {
    func status(_ id: String, _ respond: @escaping (HTTPResponse) -> Void) {
        guard TaskID.isValid(id) else {
            return respond(.error(400, "malformed task id: must be \(TaskID.rule)"))
        }
        queue.status(id: id) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(nil):
                respond(.error(404, "no task \(id): unknown, or expired after its retention"))
            case .success(let record?):
                var headers: [(name: String, value: String)] = []
                if !record.state.isTerminal { headers.append(("Retry-After", "1")) }
                headers.append(("Cache-Control", "no-store"))
                respond(.json(200, Self.statusBody(record), headers: headers))
            case .failure(let error):
                self.stats.redisErrors += 1
                respond(.error(503, "task state unavailable: \(error)", headers: self.unavailableHeaders))
            }
        }
    }

    /// `{"task_id", "state", "result"?, "error"? | "last_error"?, "attempts", "created_at", "updated_at",
    /// "retry_at"?, "history"}`.
    static func statusBody(_ r: TaskRecord) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(160 + (r.result?.count ?? 0) + (r.error?.utf8.count ?? 0))
        b.append(contentsOf: #"{"task_id":"#.utf8)
        JSONText.appendString(r.id, to: &b)
        b.append(contentsOf: #","state":"#.utf8)
        JSONText.appendString(r.state.rawValue, to: &b)
        if let result = r.result {
            b.append(contentsOf: #","result":"#.utf8)
            b.append(contentsOf: result)
        }
        if let error = r.error {
            // FAILURE's `error` is why it failed; a task still waiting shows why its last attempt
            // did not succeed — what it is waiting out — as `last_error`.
            b.append(contentsOf: (r.state == .failure ? #","error":"# : #","last_error":"#).utf8)
            JSONText.appendString(error, to: &b)
        }
        b.append(contentsOf: #","attempts":"#.utf8)
        JSONText.appendInt(r.attempts, to: &b)
        func time(_ key: StaticString, _ ms: Int64) {
            key.withUTF8Buffer { b.append(contentsOf: $0) }
            b.append(UInt8(ascii: "\""))
            Timestamp.append(ms: ms, to: &b)  // RFC 3339 needs no escaping
            b.append(UInt8(ascii: "\""))
        }
        time(#","created_at":"#, r.createdAtMs)
        time(#","updated_at":"#, r.updatedAtMs)
        if let retryAt = r.retryAtMs { time(#","retry_at":"#, retryAt) }
        // Every transition, oldest first: submitted, the first start, the recorded ones (retries
        // with their errors, later starts, failure, re-drive), and SUCCESS.
        // (The first start of the current run is a field of its own: it follows the last re-drive,
        // or the submit. Placed by that, not by time: both can fall in the same millisecond.)
        var events: [(ms: Int64, state: String, detail: String)] = [(r.createdAtMs, "PENDING", "submitted")]
        var recorded = r.history.map { ($0.atMs, $0.state, $0.detail) }
        if let started = r.startedAtMs {
            let at = (recorded.lastIndex { $0.2.hasPrefix("re-driven") }).map { $0 + 1 } ?? 0
            recorded.insert((started, "STARTED", "attempt 1"), at: at)
        }
        events += recorded
        if r.state == .success { events.append((r.updatedAtMs, "SUCCESS", "")) }
        b.append(contentsOf: #","history":["#.utf8)
        for (i, e) in events.enumerated() {
            if i > 0 { b.append(UInt8(ascii: ",")) }
            time(#"{"at":"#, e.ms)
            b.append(contentsOf: #","state":"#.utf8)
            JSONText.appendString(e.state, to: &b)
            if !e.detail.isEmpty {
                b.append(contentsOf: #","detail":"#.utf8)
                JSONText.appendString(e.detail, to: &b)
            }
            b.append(UInt8(ascii: "}"))
        }
        b.append(contentsOf: "]}".utf8)
        return b
    }

    func ready(_ respond: @escaping (HTTPResponse) -> Void) {
        guard queue.redis.isConnected else {
            let why = queue.redis.lastError.map { "\($0)" } ?? "connecting"
            return respond(.error(503, "redis unreachable: \(why)", headers: unavailableHeaders))
        }
        let wanted = queue.redis.configuration.minReplicas
        guard wanted == 0 else {
            // Submits need `wanted` replicas to confirm: with fewer connected, each would be a 503.
            return queue.replicaCount { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let n) where n >= wanted: self.readyDepth(respond)
                case .success(let n):
                    respond(
                        .error(
                            503, "redis primary has \(n) of the \(wanted) replicas submits wait for",
                            headers: self.unavailableHeaders))
                case .failure(let error): respond(.error(503, "not ready: \(error)", headers: self.unavailableHeaders))
                }
            }
        }
        readyDepth(respond)
    }

    private func readyDepth(_ respond: @escaping (HTTPResponse) -> Void) {
        queue.depth { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let d):
                // Ready while shedding: status reads are served, and taking this instance out of
                // a balancer would not drain a backlog all instances share. It says why submits wait.
                var body =
                    #"{"status":"ready","redis":"up","stream_length":\#(d.length),"pending":\#(d.pending),"lag":\#(d.lag),"delayed":\#(d.delayed),"dead_letter":\#(d.dead),"consumers":\#(d.consumers)"#
                if let shedder = self.shedder {
                    body += #","accepting":\#(shedder.reason == nil),"backlog":\#(shedder.backlog)"#
                    if let limit = shedder.backlogLimit { body += #","backlog_limit":\#(limit)"# }
                    if let reason = shedder.reason {
                        var quoted: [UInt8] = []
                        JSONText.appendString(reason, to: &quoted)
                        body += #","shed_reason":"# + String(decoding: quoted, as: UTF8.self)
                    }
                }
                respond(.json(200, Array((body + "}").utf8)))
            case .failure(let error):
                respond(.error(503, "not ready: \(error)", headers: self.unavailableHeaders))
            }
        }
    }
}
