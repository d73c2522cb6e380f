// APIServiceTests: the HTTP API in-process against a real redis-server — every status it answers.

import Foundation
import Logging
import MeshHTTP
import MeshLoop
import MeshRedis
import MeshTestSupport
import MeshTime
import TaskQueue
import Testing

@testable import APIService

/// One test's api-service: a loop, a redis-server, the HTTP server on a free port.
final class APIWorld {
    let loop: EventLoop
    let redisServer: RedisServer
    let redis: RedisClient
    let queue: QueueClient
    let api: APIHandler
    let http: HTTPServer
    let port: UInt16

    init(
        apiConfiguration: APIHandler.Configuration = APIHandler.Configuration(),
        configure: (inout HTTPServer.Configuration) -> Void = { _ in }
    ) throws {
        redisServer = try RedisServer()
        loop = try EventLoop()
        var redisConfig = RedisClient.Configuration()
        redisConfig.commandTimeoutMs = 1_000
        redisConfig.reconnectMaxMs = 200
        redis = RedisClient(
            loop: loop, endpoint: .tcp(host: "127.0.0.1", port: redisServer.port), configuration: redisConfig)
        queue = QueueClient(redis: redis)
        redis.onConnect = { [queue] in queue.ensureGroup() }
        redis.start()
        api = APIHandler(queue: queue, configuration: apiConfiguration, logger: Logger(label: "test"))
        var config = HTTPServer.Configuration()
        configure(&config)
        http = try HTTPServer(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0), configuration: config) {
            [api] in api.handle($0, $1)
        }
        guard case .tcp(_, let p) = http.endpoint else { fatalError() }
        port = p
        run(until: { self.redis.isConnected && self.queue.groupReady })
    }

    func run(seconds: Double = 20, until condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        let finished = runLoop(loop, seconds: seconds, until: condition)
        #expect(finished, "timed out after \(seconds) s", sourceLocation: sourceLocation)
    }

    /// Sends raw request bytes on one connection and returns `count` responses.
    func exchange(_ text: String, responses count: Int = 1) -> [Response] {
        let port = self.port
        let job = BackgroundJob { () -> [String] in
            let c = BlockingClient(port: port)
            defer { c.close() }
            c.send(text)
            return c.receiveResponses(count).responses
        }
        run(until: { job.isDone })
        return job.result.map(Response.init)
    }

    func request(_ method: String, _ path: String, body: String? = nil, headers: [String] = []) -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        for h in headers { text += h + "\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        return exchange(text).first ?? Response("")
    }

    func submit(_ message: String, headers: [String] = ["Content-Type: application/json"]) -> Response {
        let body = String(decoding: try! JSONSerialization.data(withJSONObject: ["message": message]), as: UTF8.self)
        return request("POST", "/submit", body: body, headers: headers)
    }

    func finish() {
        api.stopMonitor()
        http.close()
        run(until: { http.isDrained })
        redis.close()
        loop.runUntilHandlesClosed()
        #expect(throws: Never.self) { try loop.close() }
        redisServer.stop()
    }
}

/// A parsed response.
struct Response {
    var status = 0
    var headers: [String: String] = [:]
    var body = ""
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    init(_ text: String) {
        guard let split = text.range(of: "\r\n\r\n") else { return }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        body = String(text[split.upperBound...])
    }
}

@Suite struct APIServiceTests {
    @Test func submitAnswers202WithLocationOnlyOnceStored() throws {
        let w = try APIWorld()
        let r = w.submit("my secret email is test@mail.com and my card is 1234567890123456")
        #expect(r.status == 202)
        let id = try #require(r.json["task_id"] as? String)
        #expect(r.json["status"] as? String == "submitted")
        #expect(r.headers["location"] == "/status/\(id)")
        #expect(r.headers["content-type"] == "application/json")
        let s = w.request("GET", "/status/\(id)")
        #expect(s.status == 200 && s.json["state"] as? String == "PENDING" && s.json["attempts"] as? Int == 0)
        #expect((s.json["created_at"] as? String)?.hasSuffix("Z") == true && s.json["updated_at"] != nil)
        #expect(s.headers["retry-after"] == "1")
        w.finish()
    }

    @Test func everyErrorHasItsStatusAndAJSONBody() throws {
        let w = try APIWorld { $0.maxBodyBytes = 1 << 20 }
        let cases: [(Response, Int)] = [
            (w.request("POST", "/submit", body: "{not json", headers: ["Content-Type: application/json"]), 400),
            (w.request("POST", "/submit", body: "", headers: ["Content-Type: application/json"]), 400),
            (w.request("POST", "/submit", body: "{\"msg\":\"x\"}", headers: ["Content-Type: application/json"]), 422),
            (w.request("POST", "/submit", body: "{\"message\":42}", headers: ["Content-Type: application/json"]), 422),
            (
                w.request("POST", "/submit", body: "{\"message\":null}", headers: ["Content-Type: application/json"]),
                422
            ),
            (w.request("POST", "/submit", body: "[\"message\"]", headers: ["Content-Type: application/json"]), 422),
            (w.request("POST", "/submit", body: "message=x", headers: ["Content-Type: text/plain"]), 415),
            (w.request("GET", "/submit"), 405),
            (w.request("DELETE", "/status/abc"), 405),
            (w.request("GET", "/nope"), 404),
            (w.request("GET", "/status/does-not-exist"), 404),
            (w.request("GET", "/status/bad%20id"), 400),
            (w.request("GET", "/status/" + String(repeating: "a", count: 129)), 400),
            (
                w.request(
                    "POST", "/submit", body: "{}", headers: ["Content-Type: application/json", "Idempotency-Key: "]),
                400
            ),
        ]
        for (i, (response, status)) in cases.enumerated() {
            #expect(response.status == status, "case \(i): \(response.body)")
            #expect(response.json["error"] is String && response.json["detail"] != nil, "case \(i): \(response.body)")
        }
        #expect(cases[7].0.headers["allow"] == "POST")
        #expect(cases[8].0.headers["allow"] == "GET, HEAD")
        // A body over the limit: 413 before it is read.
        let big = w.request(
            "POST", "/submit", body: nil,
            headers: ["Content-Type: application/json", "Content-Length: \((1 << 20) + 1)"])
        #expect(big.status == 413)
        // Charset parameters and +json types are fine.
        #expect(w.submit("x", headers: ["Content-Type: application/json; charset=utf-8"]).status == 202)
        #expect(w.submit("x", headers: []).status == 415, "no Content-Type: refused, not guessed")
        w.finish()
    }

    @Test func theSameIdempotencyKeyGivesTheSameTask() throws {
        let w = try APIWorld()
        let headers = ["Content-Type: application/json", "Idempotency-Key: order-77"]
        let a = w.submit("pay 10", headers: headers)
        let b = w.submit("pay 10", headers: headers)
        let c = w.submit("pay 99", headers: headers)
        #expect(a.status == 202 && b.status == 202)
        #expect(a.json["task_id"] as? String == b.json["task_id"] as? String)
        #expect(b.headers["idempotent-replayed"] == "true" && a.headers["idempotent-replayed"] == nil)
        #expect(c.status == 422)
        let firstID = try #require(a.json["task_id"] as? String)
        #expect(!c.body.contains(firstID), "a conflict does not reveal the other request's task")
        let other = w.submit("pay 10", headers: ["Content-Type: application/json", "Idempotency-Key: order-78"])
        #expect(other.json["task_id"] as? String != a.json["task_id"] as? String)
        w.finish()
    }

    /// Redis takes the submit and does not answer in time (frozen here): the task may be stored,
    /// so the 503 names it instead of saying "not stored" — a retry would make a second task.
    @Test func aSubmitRedisDidNotConfirmIsAnsweredOutcomeUnknownWithItsID() throws {
        let w = try APIWorld()
        // Each submit in a freeze of its own: the first one's deadline resets the connection, and
        // a submit after that is refused unsent (a plain 503: certainly not stored).
        func frozen(_ submit: () -> Response) -> Response {
            w.redisServer.pause()
            defer { w.redisServer.resume() }
            return submit()
        }
        let plain = frozen { w.submit("while redis is frozen") }
        w.run(until: { w.redis.isConnected })
        let keyed = frozen {
            w.submit("pay 10 while frozen", headers: ["Content-Type: application/json", "Idempotency-Key: frozen-1"])
        }
        for r in [plain, keyed] {
            #expect(r.status == 503 && r.headers["retry-after"] == "1")
            #expect(r.json["error"] as? String == "outcome unknown", "\(r.body)")
        }
        #expect((keyed.json["detail"] as? String)?.contains("same Idempotency-Key") == true)
        let id = try #require(plain.json["task_id"] as? String)
        #expect(plain.json["status_url"] as? String == "/status/" + id)
        w.run(until: { w.redis.isConnected })
        // Redis ran what it had read before the client gave up: the task is there, once.
        #expect(w.request("GET", "/status/" + id).status == 200)
        let again = w.submit(
            "pay 10 while frozen", headers: ["Content-Type: application/json", "Idempotency-Key: frozen-1"])
        #expect(again.status == 202 && again.json["task_id"] as? String == keyed.json["task_id"] as? String)
        w.finish()
    }

    @Test func redisAwayMeans503WithRetryAfterThenRecovery() throws {
        let w = try APIWorld()
        #expect(w.request("GET", "/readyz").status == 200)
        w.redisServer.kill()
        w.run(until: { !w.redis.isConnected })
        let down = w.submit("while redis is down")
        #expect(down.status == 503 && down.headers["retry-after"] == "1")
        #expect(down.json["task_id"] == nil, "never sent: certainly not stored, no id to chase")
        #expect(w.request("GET", "/status/abc").status == 503)
        #expect(w.request("GET", "/readyz").status == 503)
        #expect(w.request("GET", "/healthz").status == 200, "alive, just not ready")
        try w.redisServer.restart()
        w.run(until: { w.redis.isConnected && w.request("GET", "/readyz").status == 200 })
        #expect(w.submit("after the restart").status == 202)
        #expect(w.api.stats.redisErrors >= 2)
        w.finish()
    }

    @Test func redisOutOfMemoryMeans503WithRetryAfterNotAFailure() throws {
        let w = try APIWorld()
        #expect(w.submit("before").status == 202)
        var set = false
        w.redis.send(["CONFIG", "SET", "maxmemory", "1"]) { _ in set = true }
        w.run(until: { set })
        let full = w.submit("while redis is full")
        #expect(full.status == 503 && full.headers["retry-after"] != nil)
        #expect((full.json["detail"] as? String)?.contains("out of memory") == true, "\(full.json)")
        #expect(full.json["task_id"] == nil, "refused: not stored")
        #expect(w.api.stats.refusedOutOfMemory == 1 && w.api.stats.redisErrors == 0)
        set = false
        w.redis.send(["CONFIG", "SET", "maxmemory", "0"]) { _ in set = true }
        w.run(until: { set })
        #expect(w.submit("after").status == 202)
        w.finish()
    }

    /// Redis's group lag is an estimate: after deletions and an AOF restart the soak saw 1.4 million
    /// over an empty stream, and every submit was shed. The backlog is the stream's length.
    @Test func aWrongGroupLagDoesNotShedSubmits() throws {
        let w = try APIWorld()
        var shedding = LoadShedder.Configuration()
        shedding.maxBacklog = 100
        let shedder = try LoadShedder(loop: w.loop, queue: w.api.queue, configuration: shedding)
        w.api.shedder = shedder
        #expect(w.submit("one").status == 202)
        // Read and finish the entry as a worker would (XACK + XDEL), then make Redis believe a
        // million entries were added: its lag is now ~a million, the stream empty.
        var done = false
        let keys = TaskKeys()
        w.redis.send(["XREADGROUP", "GROUP", keys.group, "w", "COUNT", "10", "STREAMS", keys.stream, ">"]) { _ in }
        w.redis.send(["XRANGE", keys.stream, "-", "+"]) { result in
            guard case .success(.array(let items?)) = result, case .array(let e?) = items.first,
                let entry = e.first?.string
            else { return }
            w.redis.send(["XACK", keys.stream, keys.group, entry]) { _ in }
            w.redis.send(["XDEL", keys.stream, entry]) { _ in }
            w.redis.send(["XSETID", keys.stream, entry, "ENTRIESADDED", "1000000", "MAXDELETEDID", entry]) { _ in
                done = true
            }
        }
        w.run(until: { done })
        var lag: Int64 = 0
        w.api.queue.depth { if case .success(let d) = $0 { lag = d.lag } }
        w.run(until: { lag != 0 })
        #expect(lag > 900_000, "the setup makes Redis's lag wrong")
        let start = w.loop.nowMs
        w.run(until: { w.loop.nowMs > start + 600 })  // two reads of the shedder
        #expect(shedder.backlog == 0 && shedder.reason == nil)
        #expect(w.submit("two").status == 202)
        shedder.close()
        w.api.shedder = nil
        w.finish()
    }

    @Test func pipelinedRequestsOnOneConnectionAreAnsweredInOrder() throws {
        let w = try APIWorld()
        var text = ""
        for i in 0..<20 {
            let body = "{\"message\":\"pipelined \(i)\"}"
            text +=
                "POST /submit HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            text += "GET /healthz HTTP/1.1\r\n\r\n"
        }
        let responses = w.exchange(text, responses: 40)
        #expect(responses.count == 40)
        for (i, r) in responses.enumerated() { #expect(r.status == (i % 2 == 0 ? 202 : 200)) }
        let ids = Set(responses.compactMap { $0.json["task_id"] as? String })
        #expect(ids.count == 20)
        w.finish()
    }

    @Test func manyConcurrentSubmitsFromSeveralConnections() throws {
        let w = try APIWorld()
        let port = w.port
        let jobs = (0..<8).map { n in
            BackgroundJob { () -> [String] in
                let c = BlockingClient(port: port)
                defer { c.close() }
                var ids: [String] = []
                for i in 0..<50 {
                    let body = "{\"message\":\"client \(n) message \(i)\"}"
                    c.send(
                        "POST /submit HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    )
                    if let r = c.receiveResponses(1).responses.first, let id = Response(r).json["task_id"] as? String {
                        ids.append(id)
                    }
                }
                return ids
            }
        }
        w.run(until: { jobs.allSatisfy(\.isDone) })
        let ids = jobs.flatMap(\.result)
        #expect(ids.count == 400 && Set(ids).count == 400)
        var length: Int64 = -1
        w.redis.send(["XLEN", TaskKeys().stream]) { if case .integer(let n) = try? $0.get() { length = n } }
        w.run(until: { length >= 0 })
        #expect(length == 400)
        w.finish()
    }

    @Test func metricsAreValidPrometheusTextWithTheQueueAndTotals() throws {
        let w = try APIWorld()
        w.api.figuresProvider = { ["log_events_dropped_total": 0, "http_connections_open": 1] }
        #expect(w.submit("a").status == 202)
        #expect(w.submit("b").status == 202)
        #expect(w.request("GET", "/nope").status == 404)
        let raw = w.exchange("GET /metrics HTTP/1.1\r\n\r\n").first
        let r = try #require(raw)
        #expect(r.status == 200 && r.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let lines = r.body.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"alertmesh_http_requests_total{method="POST",route="/submit",status="202"} 2"#))
        #expect(lines.contains(#"alertmesh_http_requests_total{method="GET",route="unknown",status="404"} 1"#))
        #expect(lines.contains(#"alertmesh_http_request_duration_seconds_count{route="/submit"} 2"#))
        #expect(lines.contains(#"alertmesh_http_request_duration_seconds_bucket{route="/submit",le="+Inf"} 2"#))
        #expect(lines.contains("alertmesh_queue_length 2") && lines.contains("alertmesh_queue_lag 2"))
        #expect(lines.contains("alertmesh_queue_pending 0") && lines.contains("alertmesh_dead_letter_size 0"))
        #expect(lines.contains(#"alertmesh_tasks_total{event="submitted"} 2"#))
        #expect(lines.contains(#"alertmesh_log_events_dropped_total{service="api-service"} 0"#))
        #expect(lines.contains("alertmesh_redis_up 1"))
        #expect(lines.contains("alertmesh_dead_letter_oldest_age_seconds 0"), "no dead letter: 0")
        // Every sample belongs to a family announced by HELP and TYPE, once.
        var announced: Set<String> = []
        for line in lines {
            if line.hasPrefix("# TYPE ") {
                let name = String(line.split(separator: " ")[2])
                #expect(!announced.contains(name), "TYPE of \(name) twice")
                announced.insert(name)
            } else if !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let family = ["_bucket", "_sum", "_count"].reduce(name) { n, suffix in
                    n.hasSuffix(suffix) && announced.contains(String(n.dropLast(suffix.count)))
                        ? String(n.dropLast(suffix.count)) : n
                }
                #expect(announced.contains(family), "\(name) has no TYPE")
                #expect(line.split(separator: " ").last.flatMap { Double($0) } != nil || line.hasSuffix("+Inf"))
            }
        }
        // A dead letter written 90 s ago (its entry id is its time): its age shows.
        var added = false
        let ninetySecondsAgo = Int64(Date().timeIntervalSince1970 * 1_000) - 90_000
        w.redis.send(["XADD", TaskKeys().dead, "\(ninetySecondsAgo)-0", "task_id", "t", "error", "e"]) { _ in
            added = true
        }
        w.run(until: { added })
        // Within the second, /metrics is served from what was read: Redis is not asked again.
        let cached = try #require(w.exchange("GET /metrics HTTP/1.1\r\n\r\n").first).body
        #expect(cached.contains("\nalertmesh_dead_letter_size 0\n"))
        #expect(w.api.depth.reads == 1 && w.api.counters.reads == 1)
        let second = Date().addingTimeInterval(1.0)
        w.run(until: { Date() > second })
        let later = try #require(w.exchange("GET /metrics HTTP/1.1\r\n\r\n").first).body
        #expect(w.api.depth.reads == 2)
        let age = later.firstMatch(of: /\nalertmesh_dead_letter_oldest_age_seconds ([0-9.]+)/).flatMap { Double($0.1) }
        #expect(age.map { $0 >= 89 && $0 < 120 } == true, "\(String(describing: age))")
        #expect(later.contains("\nalertmesh_dead_letter_size 1\n"))
        w.finish()
    }

    @Test func timestampsAreRFC3339InUTC() {
        #expect(Timestamp.rfc3339(ms: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(ms: 1_795_965_544_245) == "2026-11-29T15:19:04.245Z")
        #expect(Timestamp.rfc3339(ms: 951_782_400_001) == "2000-02-29T00:00:00.001Z")
    }
}
