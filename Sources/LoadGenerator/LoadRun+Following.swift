// LoadRun+Following: every accepted task followed to its end without competing with the mesh —
// a probe first, then sweeps of the older tasks once the probe has finished.

import FoundationEssentials
import MeshHTTP
import MeshLoop

extension LoadRun {
    struct Status: Decodable {
        struct Result: Decodable { var alerts: [String] }
        var state: String
        /// Absent from APIs that keep no timestamps (the Celery design): the client's clock then.
        var updated_at: String?
        var result: Result?

        /// SUCCESS or FAILURE: the task will not change again.
        var isFinished: Bool { state == "SUCCESS" || state == "FAILURE" }
    }

    /// Adds the budget of one poller tick (every 20 ms) while submitting.
    func tick() {
        if submitEndNs == nil {
            pollBudget = min(pollBudget + configuration.pollRate * 0.02, max(1, configuration.pollRate / 10))
        }
        poll()
    }

    /// Polls, without letting polling compete with the work it follows. The stream is worked
    /// first in, first out: while a recent task (the probe) is unfinished, the others mostly are
    /// too, so only the probe is asked, once a tick, plus a share of the oldest every second (a
    /// task being retried falls behind). Once a probe is finished, one sweep asks every pending
    /// task older than it. So a closed-loop run asks about each task about once, mostly after the
    /// mesh has finished it, instead of over and over while the mesh is busy.
    func poll() {
        let now = loop.nowMs
        let limit = configuration.pollConnections * 2
        if submitEndNs != nil {
            pollBudget = .greatestFiniteMagnitude  // submitting is over: follow as fast as answers come
        }
        if sweep == nil && now >= lastHeadSweepMs + 1_000 {
            // The oldest pending tasks, a twentieth of them a second (at least 64): a task stuck
            // behind an unfinished probe is still seen well within the default timeout.
            lastHeadSweepMs = now
            pollCursor = 0
            sweep = (pollOrder.count, max(64, pending.count / 20))
        }
        guard let (end, _) = sweep else {
            // Probing: the newest pending task sent at least 50 ms ago (a younger one cannot be
            // finished yet in any mesh worth measuring) and not asked within the last second (so a
            // task that never finishes does not hold the probe: the next one back is asked).
            while let last = pollOrder.last, pending[last] == nil { pollOrder.removeLast() }
            guard !probeInFlight, pollsInFlight < limit, pollBudget >= 1 else { return }
            let sentBefore = Self.wallMs() - 50
            var k = pollOrder.count - 1
            var probe: String?
            while k >= max(0, pollOrder.count - 4_096) {
                if let task = pending[pollOrder[k]], task.intendedWallMs <= sentBefore, now >= task.lastPollMs + 1_000 {
                    probe = pollOrder[k]
                    break
                }
                k -= 1
            }
            guard let id = probe else { return }
            probeInFlight = true
            ask(id, now: now) { [unowned self] finished in
                self.probeInFlight = false
                if finished {
                    // First in, first out: the tasks older than a finished one have most likely
                    // finished too. One sweep asks them all.
                    self.pollCursor = 0
                    self.sweep = (min(k + 1, self.pollOrder.count), nil)
                }
            }
            return
        }
        while pollsInFlight < limit, pollBudget >= 1 {
            guard pollCursor < min(end, pollOrder.count), sweep?.left != 0 else {
                // The sweep is done; after a full one, drop the finished tasks (cheaper than
                // removing each as it ends).
                if sweep?.left == nil { pollOrder.removeAll { pending[$0] == nil } }
                sweep = nil
                pollCursor = 0
                return
            }
            let id = pollOrder[pollCursor]
            pollCursor += 1
            // A task is not asked again within 100 ms.
            guard let task = pending[id], now >= task.lastPollMs + 100 else { continue }
            if let left = sweep?.left { sweep?.left = left - 1 }
            ask(id, now: now) { _ in }
        }
    }

    /// One status poll; `then` learns whether the task has finished.
    func ask(_ id: String, now: UInt64, then: @escaping (Bool) -> Void) {
        pending[id]?.lastPollMs = now
        pollBudget -= 1
        pollsInFlight += 1
        report.polls += 1
        pollClient.send(method: "GET", path: "/status/\(id)") { [unowned self] result in
            self.pollsInFlight -= 1
            var finished = false
            if case .success(let response) = result, response.status == 200,
                let status = try? self.statusDecoder.decode(Status.self, from: Data(response.body))
            {
                finished = status.isFinished
                self.observe(id, status)
            }
            then(finished)
            if self.completion != nil { self.poll() }  // keep the pollers busy, within the budget
        }
    }

    func observe(_ id: String, _ status: Status) {
        guard status.isFinished, let task = pending.removeValue(forKey: id) else {
            return
        }
        let serverMs = status.updated_at.flatMap(Self.parseRFC3339)
        if serverMs == nil { clientTimed += 1 }
        let doneMs = serverMs ?? Self.wallMs()
        lastDoneWallMs = max(lastDoneWallMs, doneMs)
        e2eLatency.record(UInt64(max(1, (doneMs - task.intendedWallMs) * 1000)))
        if status.state == "SUCCESS" {
            report.completed += 1
            if status.result?.alerts.sorted() != prepared[task.message].expected { report.wrong += 1 }
        } else {
            report.failed += 1
        }
        if submitEndNs != nil && pending.isEmpty { finish() }
    }

    /// `12.3`: one decimal, without Foundation's formatter.
    public static func decimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// `2026-11-29T15:19:04.245Z` → ms since the epoch.
    static func parseRFC3339(_ s: String) -> Double? {
        let u = Array(s.utf8)
        guard u.count >= 24 else { return nil }
        func n(_ a: Int, _ b: Int) -> Int? { Int(String(decoding: u[a..<b], as: UTF8.self)) }
        guard let y = n(0, 4), let mo = n(5, 7), let d = n(8, 10), let h = n(11, 13), let mi = n(14, 16),
            let se = n(17, 19), let ms = n(20, 23)
        else { return nil }
        // Days from civil (Howard Hinnant).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(((days * 24 + h) * 60 + mi) * 60 + se) * 1000 + Double(ms)
    }
}
