// APIHandler+Submit: POST /submit — the body read, the task stored, 202 only once Redis has it.

import FoundationEssentials
import MeshHTTP
import MeshJSON
import MeshLoop
import TaskQueue

extension APIHandler {
    struct SubmitBody: Decodable {
        var message: String
    }

    func submit(
        _ request: HTTPRequest, receivedAtNs: UInt64, _ respond: @escaping (HTTPResponse) -> Void
    ) {
        // Required, not guessed: a form post from another site (text/plain, no preflight) must
        // not become a task.
        guard let type = request.mediaType else {
            return respond(.error(415, "Content-Type: application/json is required"))
        }
        if type != "application/json", !type.hasSuffix("+json") {
            return respond(.error(415, "Content-Type must be application/json, not \(type)"))
        }
        let key = request.headers["Idempotency-Key"]
        if let key, !Self.isValidIdempotencyKey(key) {
            return respond(.error(400, "Idempotency-Key must be 1-255 printable ASCII characters"))
        }
        let message: String
        switch Self.decodeSubmit(request.body) {
        case .success(let m): message = m
        case .failure(let error): return respond(.error(error.status, error.detail))
        }
        if let shedder, !shedder.admit() {
            return respond(
                .error(
                    429, "too many tasks waiting; try again later (\(shedder.reason ?? "shedding"))",
                    headers: [("Retry-After", String(shedder.configuration.retryAfterSeconds))]))
        }
        let id = taskIDs.make()
        queue.submit(id: id, message: message, idempotencyKey: key) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(.created(let id)):
                self.stats.submitted += 1
                self.shedder?.accepted(messageBytes: message.utf8.count)
                let us = (EventLoop.hrtimeNs() &- receivedAtNs) / 1_000
                self.logger.info(
                    "task submitted",
                    metadata: [
                        "task_id": "\(id)", "bytes": "\(message.utf8.count)",
                        "duration_ms": "\(us / 1_000).\(us % 1_000 / 100)",
                    ])
                respond(Self.accepted(id, replayed: false))
            case .success(.existing(let id)):
                self.stats.replayed += 1
                self.logger.info("idempotent submit replayed", metadata: ["task_id": "\(id)"])
                respond(Self.accepted(id, replayed: true))
            case .success(.conflict):
                // Not the other task's id: whoever guesses a key must learn nothing of its request.
                respond(.error(422, "this Idempotency-Key was already used for a different message"))
            case .failure(let error) where error.outcomeUnknown:
                // Redis got the task and did not answer in time: it may be stored. A plain 503
                // would invite a retry that makes a second task, so the answer names the task.
                self.stats.redisErrors += 1
                self.logger.warning(
                    "submit outcome unknown: redis did not answer", metadata: ["task_id": "\(id)", "error": "\(error)"])
                respond(Self.outcomeUnknown(id, idempotencyKey: key, headers: self.unavailableHeaders))
            case .failure(let error) where error.isOutOfMemory:
                // maxmemory reached before the shedder saw it coming (a burst between its reads).
                self.stats.refusedOutOfMemory += 1
                self.logger.warning("submit refused: redis is out of memory", metadata: ["error": "\(error)"])
                respond(
                    .error(
                        503, "redis is out of memory; the task was not stored: try again later",
                        headers: [("Retry-After", String(self.shedder?.configuration.retryAfterSeconds ?? 2))]))
            case .failure(let error):
                self.stats.redisErrors += 1
                self.logger.warning("submit failed: task not stored", metadata: ["error": "\(error)"])
                respond(.error(503, "the task could not be stored: \(error)", headers: self.unavailableHeaders))
            }
        }
    }

    struct RequestError: Error {
        var status: Int
        var detail: String
    }

    /// Reads `{"message": "<string>"}`: malformed JSON is 400, a missing or non-string message 422.
    static func decodeSubmit(_ body: [UInt8]) -> Result<String, RequestError> {
        guard !body.isEmpty else {
            return .failure(RequestError(status: 400, detail: "empty body; send {\"message\": \"...\"}"))
        }
        // The one shape nearly every submit has is read directly (JSONDecoder's fixed cost per
        // document was the largest part of a submit's own CPU); anything else JSONDecoder reads and judges.
        if let message = JSONReader.plainStringMember("message", of: body) { return .success(message) }
        do {
            return .success(try JSONDecoder().decode(SubmitBody.self, from: Data(body)).message)
        } catch DecodingError.keyNotFound {
            return .failure(RequestError(status: 422, detail: "\"message\" is missing"))
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            return .failure(
                RequestError(status: 422, detail: "the body must be a JSON object with a \"message\" string"))
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
            return .failure(RequestError(status: 422, detail: "\"message\" must be a string"))
        } catch {
            return .failure(RequestError(status: 400, detail: "malformed JSON"))
        }
    }

    /// 503 `{"error": "outcome unknown", "detail", "task_id", "status_url"}`: the task may or may
    /// not be stored. Its status says which (404: not stored, submit again); with an
    /// Idempotency-Key, submitting again with the same key is safe either way.
    static func outcomeUnknown(
        _ id: String, idempotencyKey: String?, headers: [(name: String, value: String)]
    ) -> HTTPResponse {
        let url = "/status/" + id
        let detail =
            idempotencyKey == nil
            ? "redis did not confirm in time; the task may be stored: GET \(url) before submitting again (404: it was not)"
            : "redis did not confirm in time; the task may be stored: submit again with the same Idempotency-Key"
        var body: [UInt8] = []
        body.append(contentsOf: #"{"error":"outcome unknown","detail":"#.utf8)
        JSONText.appendString(detail, to: &body)
        body.append(contentsOf: #","task_id":"#.utf8)
        JSONText.appendString(id, to: &body)
        body.append(contentsOf: #","status_url":"#.utf8)
        JSONText.appendString(url, to: &body)
        body.append(UInt8(ascii: "}"))
        return .json(503, body, headers: headers)
    }

    static func isValidIdempotencyKey(_ key: String) -> Bool {
        let u = key.utf8
        return !u.isEmpty && u.count <= 255 && u.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    static func accepted(_ id: String, replayed: Bool) -> HTTPResponse {
        let url = "/status/" + id
        var body: [UInt8] = []
        body.reserveCapacity(128)
        body.append(contentsOf: #"{"task_id":"#.utf8)
        JSONText.appendString(id, to: &body)
        body.append(contentsOf: #","status":"submitted","status_url":"#.utf8)
        JSONText.appendString(url, to: &body)
        body.append(UInt8(ascii: "}"))
        var headers: [(name: String, value: String)] = [("Location", url)]
        if replayed { headers.append(("Idempotent-Replayed", "true")) }
        return .json(202, body, headers: headers)
    }
}
