// OpenAPITests: /openapi.json is kept true — every route it lists is served, every status a request
// gets is listed for its route, and every JSON answer matches its schema (no undocumented field).

import APIService
import Alerts
import Foundation
import MeshRedis
import TaskPipeline
import TaskQueue
import Testing

/// Just enough JSON Schema for our document: $ref, type, required, properties (closed), items, enum.
struct SchemaChecker {
    let document: [String: Any]

    func resolve(_ node: [String: Any]) -> [String: Any] {
        guard let ref = node["$ref"] as? String else { return node }
        var current: Any = document
        for part in ref.dropFirst(2).split(separator: "/") {
            current = (current as? [String: Any])?[String(part)] ?? [:]
        }
        return resolve(current as? [String: Any] ?? [:])
    }

    func problems(_ value: Any, _ schemaNode: [String: Any], at path: String = "$") -> [String] {
        let schema = resolve(schemaNode)
        var out: [String] = []
        if let values = schema["enum"] as? [String], !values.contains("\(value)") {
            out.append("\(path): \(value) not in \(values)")
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            let properties = schema["properties"] as? [String: [String: Any]]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                out.append("\(path).\(key): missing")
            }
            if let properties {
                for (key, v) in object {
                    guard let p = properties[key] else {
                        out.append("\(path).\(key): not in the schema")
                        continue
                    }
                    out += problems(v, p, at: "\(path).\(key)")
                }
            }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            for (i, item) in array.enumerated() {
                out += problems(item, schema["items"] as? [String: Any] ?? [:], at: "\(path)[\(i)]")
            }
        case "string": if !(value is String) { out.append("\(path): not a string") }
        case "integer": if !Self.isNumber(value, boolean: false) { out.append("\(path): not an integer") }
        case "boolean": if !Self.isNumber(value, boolean: true) { out.append("\(path): not a boolean") }
        default: break
        }
        return out
    }

    /// JSONSerialization gives NSNumber for both; its type code tells a JSON boolean ("c") from an
    /// integer ("q", "i", …).
    static func isNumber(_ value: Any, boolean: Bool) -> Bool {
        guard let n = value as? NSNumber else { return false }
        let code = String(cString: n.objCType)
        if boolean { return code == "c" || code == "B" }
        return code != "c" && code != "B" && code != "d" && code != "f"
    }
}

@Suite struct OpenAPITests {
    @Test func theDocumentMatchesTheServer() throws {
        let w = try APIWorld()
        let specResponse = w.request("GET", "/openapi.json")
        #expect(specResponse.status == 200)
        let spec = try #require(try JSONSerialization.jsonObject(with: Data(specResponse.body.utf8)) as? [String: Any])
        #expect(spec["openapi"] as? String == "3.1.0")
        let paths = try #require(spec["paths"] as? [String: [String: [String: Any]]])
        let checker = SchemaChecker(document: spec)

        // A finished task, run by a consumer in the test's loop, for the SUCCESS shape.
        let consumer = TaskConsumer(
            loop: w.loop, commands: RedisClient(loop: w.loop, service: w.redis.service),
            reader: RedisClient(loop: w.loop, service: w.redis.service),
            configuration: TaskConsumer.Configuration(name: "openapi-test")
        ) { _, done in
            let result = TaskResult(
                alerts: ["email_detected"],
                findings: [TaskResult.Finding(code: "email_detected", masked: "t***@mail.com", offset: 3, length: 13)])
            done(.success(result: result.json()))
        }
        try consumer.start()
        let done = try #require(w.submit("my test@mail.com").json["task_id"] as? String)
        w.run(until: { w.request("GET", "/status/\(done)").json["state"] as? String == "SUCCESS" })
        var stopped = false
        consumer.stop(graceMs: 0) { stopped = true }
        w.run(until: { stopped })
        let pending = try #require(w.submit("waits").json["task_id"] as? String)

        // (method, template path, request) → expected status; each must be documented for its route.
        typealias Case = (String, String, () -> Response, Int)
        let json = ["Content-Type: application/json"]
        let cases: [Case] = [
            ("post", "/submit", { w.submit("hello") }, 202),
            ("post", "/submit", { w.request("POST", "/submit", body: "{oops", headers: json) }, 400),
            ("post", "/submit", { w.request("POST", "/submit", body: "{}", headers: json) }, 422),
            (
                "post", "/submit", { w.request("POST", "/submit", body: "x", headers: ["Content-Type: text/plain"]) },
                415
            ),
            (
                "post", "/submit",
                { w.request("POST", "/submit", headers: json + ["Content-Length: \((1 << 20) + 1)"]) }, 413
            ),
            ("get", "/status/{task_id}", { w.request("GET", "/status/\(done)") }, 200),
            ("get", "/status/{task_id}", { w.request("GET", "/status/\(pending)") }, 200),
            ("get", "/status/{task_id}", { w.request("GET", "/status/no-such-task") }, 404),
            ("get", "/status/{task_id}", { w.request("GET", "/status/bad.id") }, 400),
            ("get", "/healthz", { w.request("GET", "/healthz") }, 200),
            ("get", "/readyz", { w.request("GET", "/readyz") }, 200),
            ("get", "/metrics", { w.request("GET", "/metrics") }, 200),
            ("get", "/openapi.json", { w.request("GET", "/openapi.json") }, 200),
            ("get", "/docs", { w.request("GET", "/docs") }, 200),
            ("get", "/monitor", { w.request("GET", "/monitor") }, 200),
            ("get", "/monitor/api/overview", { w.request("GET", "/monitor/api/overview") }, 200),
            ("get", "/monitor/api/recent-alerts", { w.request("GET", "/monitor/api/recent-alerts") }, 200),
            ("get", "/monitor/api/dead-letters", { w.request("GET", "/monitor/api/dead-letters") }, 503),
            (
                "post", "/monitor/api/dead-letters/redrive",
                { w.request("POST", "/monitor/api/dead-letters/redrive", body: "{}", headers: json) }, 403
            ),
        ]
        var covered: Set<String> = []
        func check(_ method: String, _ path: String, _ response: Response, _ expected: Int) {
            #expect(response.status == expected, "\(method) \(path): \(response.status) \(response.body.prefix(200))")
            guard let documented = paths[path]?[method]?["responses"] as? [String: [String: Any]],
                let entry = documented[String(response.status)]
            else {
                Issue.record(
                    "\(method.uppercased()) \(path) answers \(response.status), which the document does not list")
                return
            }
            covered.insert("\(method) \(path) \(response.status)")
            let content = checker.resolve(entry)["content"] as? [String: [String: Any]] ?? [:]
            if let schema = content["application/json"]?["schema"] as? [String: Any] {
                let body = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) ?? "not JSON"
                let found = checker.problems(body, schema)
                #expect(found.isEmpty, "\(method) \(path) \(response.status): \(found)")
            } else {
                #expect(content.keys.contains { response.headers["content-type"]?.hasPrefix($0) == true })
            }
        }
        for (method, path, request, expected) in cases { check(method, path, request(), expected) }
        // A backlog at its limit (the pending task): the 429, and /readyz saying so.
        var shedding = LoadShedder.Configuration()
        shedding.maxBacklog = 1
        let shedder = try LoadShedder(loop: w.loop, queue: w.api.queue, configuration: shedding)
        w.api.shedder = shedder
        w.run(until: { shedder.reason != nil })
        check("post", "/submit", w.submit("too many"), 429)
        check("get", "/readyz", w.request("GET", "/readyz"), 200)
        shedder.close()
        w.api.shedder = nil
        // Redis away: the 503s.
        w.redisServer.kill()
        w.run(until: { !w.redis.isConnected })
        check("post", "/submit", w.submit("down"), 503)
        check("get", "/status/{task_id}", w.request("GET", "/status/\(done)"), 503)
        check("get", "/readyz", w.request("GET", "/readyz"), 503)
        // With --monitor-admin: the re-drive's refusals before it reaches a worker.
        w.api.configuration.monitorAdmin = true
        let redrive = "/monitor/api/dead-letters/redrive"
        check("post", redrive, w.request("POST", redrive, body: "all", headers: ["Content-Type: text/plain"]), 415)
        check("post", redrive, w.request("POST", redrive, body: "{}", headers: json), 422)
        check("post", redrive, w.request("POST", redrive, body: #"{"all": true}"#, headers: json), 503)
        w.api.configuration.monitorAdmin = false
        // Answers that need a worker behind api-service: PipelineTests/MonitorDeadLetterTests.
        let needAWorker: Set<String> = ["get /monitor/api/dead-letters 200", "post \(redrive) 200"]
        // Every documented (route, status) was seen.
        for (path, methods) in paths {
            for (method, operation) in methods {
                for status in (operation["responses"] as? [String: Any] ?? [:]).keys
                where !needAWorker.contains("\(method) \(path) \(status)") {
                    #expect(
                        covered.contains("\(method) \(path) \(status)"),
                        "\(method) \(path) \(status) is never exercised")
                }
            }
        }
        w.finish()
    }

    /// `/docs` and `/openapi.json` list the nine codes, each with an example that fires it.
    @Test func theDocsListEveryAlertCodeWithAnExampleThatFiresIt() throws {
        let w = try APIWorld()
        let page = w.request("GET", "/docs").body
        let spec = w.request("GET", "/openapi.json").body
        let detector = Detector()
        for code in AlertCode.allCases {
            let row = "<tr><td><code>\(code.rawValue)</code></td><td><code>"
            guard let start = page.range(of: row)?.upperBound, let end = page[start...].range(of: "</code>")?.lowerBound
            else {
                Issue.record("/docs has no row for \(code)")
                continue
            }
            #expect(detector.scan(String(page[start..<end])).alerts.contains(code), "/docs example for \(code)")
            let example = "\(code.rawValue) `"
            guard let s = spec.range(of: example)?.upperBound, let e = spec[s...].firstIndex(of: "`") else {
                Issue.record("/openapi.json has no example for \(code)")
                continue
            }
            #expect(detector.scan(String(spec[s..<e])).alerts.contains(code), "/openapi.json example for \(code)")
            #expect(spec.contains("\"\(code.rawValue)\""), "\(code) is in the enum")
        }
        w.finish()
    }

    @Test func theDocsPageIsSelfContained() throws {
        let w = try APIWorld()
        let page = w.request("GET", "/docs")
        #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
        // Its script and style are files of its own (no 'unsafe-inline' in its CSP), from here.
        #expect(page.body.contains(#"<script src="/docs/docs.js">"#) && !page.body.contains("<script>"))
        let script = w.request("GET", "/docs/docs.js")
        #expect(script.status == 200 && script.body.contains("/openapi.json"))
        #expect(script.body.contains("window.top === window.self"), "?try=1 only when not framed")
        // Nothing is fetched from elsewhere: no external script, style, font or image.
        for body in [page.body, script.body, w.request("GET", "/docs/docs.css").body] {
            for pattern in ["src=\"http", "href=\"http", "url(http", "@import", "//cdn"] {
                #expect(!body.contains(pattern), "the page loads \(pattern)…")
            }
        }
        w.finish()
    }
}
