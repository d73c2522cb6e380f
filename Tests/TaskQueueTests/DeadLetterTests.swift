// DeadLetterTests: listing pages, re-driving by id, oldest N or all, and keeping them for a while.

import Foundation
import MeshRedis
import TaskPipeline
import Testing

@testable import TaskQueue

@Suite struct DeadLetterTests {
    /// Fails `n` tasks for good through a real consumer (permanent failures), oldest first.
    private func deadLetters(_ w: QueueWorld, _ n: Int) throws -> (TaskConsumer, [String]) {
        var fail = true
        let c = w.consumer(name: "c1") { _, done in
            done(fail ? .permanent("INVALID_ARGUMENT: no") : .success(result: Array("{}".utf8)))
        }
        try c.start()
        var ids: [String] = []
        for i in 0..<n {
            let id = try #require(w.submit("message \(i): password=pw\(i)")?.id)
            w.run(until: { w.record(id)?.state == .failure })
            ids.append(id)
        }
        fail = false
        return (c, ids)
    }

    private func list(_ d: DeadLetters, _ w: QueueWorld, limit: Int, before: String?) -> (
        letters: [DeadLetter], next: String?, total: Int64
    ) {
        var page: Result<(letters: [DeadLetter], next: String?, total: Int64), QueueError>?
        d.list(limit: limit, before: before) { page = $0 }
        w.run(until: { page != nil })
        return try! page!.get()
    }

    private func redrive(_ d: DeadLetters, _ w: QueueWorld, _ s: DeadLetters.Selection) -> RedriveOutcome {
        var outcome: Result<RedriveOutcome, QueueError>?
        d.redrive(s) { outcome = $0 }
        w.run(until: { outcome != nil })
        return try! outcome!.get()
    }

    @Test func listPagesNewestFirstWithTheRawMessageForTheCallerToMask() throws {
        let w = try QueueWorld()
        let (c, ids) = try deadLetters(w, 5)
        let d = DeadLetters(redis: w.redis)
        let first = list(d, w, limit: 2, before: nil)
        #expect(first.letters.map(\.taskID) == [ids[4], ids[3]])
        #expect(first.total == 5 && first.next == first.letters.last?.entry)
        #expect(first.letters[0].attempts == 1 && first.letters[0].error == "INVALID_ARGUMENT: no")
        #expect(first.letters[0].message == "message 4: password=pw4")
        #expect(abs(first.letters[0].failedAtMs - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000)
        let second = list(d, w, limit: 2, before: first.next)
        #expect(second.letters.map(\.taskID) == [ids[2], ids[1]])
        let last = list(d, w, limit: 2, before: second.next)
        #expect(last.letters.map(\.taskID) == [ids[0]] && last.next == nil)
        w.finish([c])
    }

    @Test func redriveByIdOldestAndAllEachOnceRefusingWhatSucceeded() throws {
        let w = try QueueWorld()
        let (c, ids) = try deadLetters(w, 6)
        let d = DeadLetters(redis: w.redis)
        // A task whose record expired (results are kept less long than dead letters) is made again.
        w.send(["DEL", w.keys.task(ids[1])])

        let byID = redrive(d, w, .tasks([ids[1], ids[1], "no-such-task"]))
        #expect(byID.redriven == [ids[1]])
        #expect(byID.refused == [.init(taskID: "no-such-task", reason: "no dead letter and no task with this id")])
        w.run(until: { w.record(ids[1])?.state == .success })
        #expect(w.record(ids[1])?.attempts == 1, "attempts start from zero")
        let again = redrive(d, w, .tasks([ids[1]]))
        #expect(again.redriven.isEmpty && again.refused.map(\.reason) == ["already succeeded"])

        let oldest = redrive(d, w, .oldest(2))
        #expect(oldest.redriven == [ids[0], ids[2]])
        // A dead letter of a task that succeeded since (another copy ran) is refused and kept.
        w.send(["HSET", w.keys.task(ids[3]), "state", "SUCCESS"])
        let all = redrive(d, w, .all)
        #expect(all.redriven == [ids[4], ids[5]])
        #expect(all.refused == [.init(taskID: ids[3], reason: "already succeeded")])
        w.run(until: { [0, 2, 4, 5].allSatisfy { w.record(ids[$0])?.state == .success } })
        #expect(w.integer(["XLEN", w.keys.dead]) == 1)
        #expect(redrive(d, w, .all).redriven.isEmpty, "nothing left to re-drive")
        w.finish([c])
    }

    @Test func redriveAllGoesThroughMoreThanOneBatch() throws {
        let w = try QueueWorld()
        let d = DeadLetters(redis: w.redis)
        let n = DeadLetters.batch + 20
        for i in 0..<n {
            let id = "t\(i)"
            w.send(["HSET", w.keys.task(id), "state", "FAILURE", "attempts", "3"])
            w.send(["XADD", w.keys.dead, "*", "task_id", id, "error", "e", "attempts", "3", "message", "m\(i)"])
        }
        let all = redrive(d, w, .all)
        #expect(all.redriven.count == n && Set(all.redriven).count == n)
        #expect(w.integer(["XLEN", w.keys.dead]) == 0)
        #expect(w.integer(["XLEN", w.keys.stream]) == Int64(n))
        #expect(w.record("t7")?.state == .pending && w.record("t7")?.attempts == 0)
        w.finish()
    }

    @Test func deadLettersOlderThanTheirTTLAreTrimmed() throws {
        let w = try QueueWorld()
        let d = DeadLetters(redis: w.redis)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for (i, age) in [3_600_000, 120_000, 1_000].enumerated() {
            w.send(["XADD", w.keys.dead, "\(now - Int64(age))-0", "task_id", "t\(i)"])
        }
        var removed: Int64?
        d.trim(ttlSeconds: 60) { removed = try? $0.get() }
        w.run(until: { removed != nil })
        #expect(removed == 2)
        #expect(list(d, w, limit: 10, before: nil).letters.map(\.taskID) == ["t2"])
        w.finish()
    }
}
