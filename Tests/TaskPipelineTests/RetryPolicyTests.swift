// RetryPolicyTests: the task state machine and the retry decisions, without Redis or sockets.

import TaskPipeline
import Testing

@Suite struct TaskStateTests {
    @Test func terminalStatesAreSticky() {
        for terminal in [TaskState.success, .failure] {
            #expect(terminal.isTerminal)
            for next in TaskState.allCases { #expect(!terminal.canMove(to: next), "\(terminal) → \(next)") }
        }
    }

    @Test func theDocumentedPathsAreAllowedAndNothingElse() {
        let allowed: Set<String> = [
            "PENDING→STARTED", "STARTED→SUCCESS", "STARTED→RETRY", "RETRY→STARTED", "STARTED→FAILURE",
            "STARTED→STARTED", "PENDING→FAILURE", "RETRY→FAILURE",
        ]
        for a in TaskState.allCases {
            for b in TaskState.allCases {
                #expect(a.canMove(to: b) == allowed.contains("\(a.rawValue)→\(b.rawValue)"), "\(a) → \(b)")
            }
        }
    }
}

@Suite struct RetryPolicyTests {
    @Test func defaultsAreFiveAttemptsOneSecondDoublingCappedAtThirty() {
        let p = RetryPolicy()
        #expect(p.maxAttempts == 5)
        #expect((1...7).map { p.ceilingMs(retry: $0) } == [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
    }

    @Test func transientFailuresRetryWithFullJitterThenGiveUp() {
        let p = RetryPolicy()
        var rng = SystemRandomNumberGenerator()
        for attempt in 1..<5 {
            for _ in 0..<200 {
                guard case .retry(let delay) = p.decide(after: .transient("UNAVAILABLE"), attempt: attempt, using: &rng)
                else {
                    Issue.record("attempt \(attempt) should retry")
                    return
                }
                #expect(delay <= p.ceilingMs(retry: attempt))
            }
        }
        #expect(
            p.decide(after: .transient("UNAVAILABLE: alert-service down"), attempt: 5)
                == .fail(error: "gave up after 5 attempts: UNAVAILABLE: alert-service down"))
    }

    @Test func jitterSpansTheWholeRange() {
        let p = RetryPolicy()
        let delays = (0..<2_000).compactMap { _ -> UInt64? in
            if case .retry(let d) = p.decide(after: .transient("x"), attempt: 3) { return d }
            return nil
        }
        #expect(delays.count == 2_000)
        #expect(delays.min()! < 400 && delays.max()! > 3_600, "full jitter covers [0, 4000] ms")
    }

    @Test func permanentFailuresFailAtOnceAndSuccessSucceeds() {
        let p = RetryPolicy()
        #expect(
            p.decide(after: .permanent("INVALID_ARGUMENT: bad task id"), attempt: 1)
                == .fail(error: "INVALID_ARGUMENT: bad task id"))
        #expect(p.decide(after: .success(result: []), attempt: 4) == .succeed)
    }

    @Test func poisonAfterTooManyDeliveries() {
        var p = RetryPolicy()
        p.maxDeliveries = 3
        #expect(!p.isPoison(deliveries: 3))
        #expect(p.isPoison(deliveries: 4))
    }
}
