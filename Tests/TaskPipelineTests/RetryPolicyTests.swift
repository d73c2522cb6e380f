// RetryPolicyTests: the task state machine and the retry decisions, without Redis or sockets.

import TaskPipeline
import Testing

@Suite struct TaskStateTests {
    @Test func terminalStatesAreSticky() {
        for terminal in [TaskState.success, .failure] {
            #expect(terminal.isTerminal)
            for next in TaskState.allCases { #expect(!terminal.canMove(to: next), "\(terminal) → \(next)") }
        }
        #expect(TaskState.allCases.filter(\.canRedrive) == [.failure], "an operator re-drives failures only")
    }

    @Test func theDocumentedPathsAreAllowedAndNothingElse() {
        let allowed: Set<String> = [
            "PENDING→STARTED", "STARTED→SUCCESS", "STARTED→RETRY", "RETRY→STARTED", "STARTED→FAILURE",
            "STARTED→STARTED", "PENDING→FAILURE", "RETRY→FAILURE", "STARTED→PENDING",
        ]
        for a in TaskState.allCases {
            for b in TaskState.allCases {
                #expect(a.canMove(to: b) == allowed.contains("\(a.rawValue)→\(b.rawValue)"), "\(a) → \(b)")
            }
        }
    }
}

@Suite struct RetryPolicyTests {
    @Test func defaultsSpanAnHourOfIncidentInExpectation() {
        let p = RetryPolicy()
        #expect(p.maxAttempts == 12 && p.maxDeliveries >= p.maxAttempts)
        #expect(
            (1...9).map { p.ceilingMs(retry: $0) } == [
                2_000, 6_000, 18_000, 54_000, 162_000, 486_000, 1_458_000, 1_800_000, 1_800_000,
            ])
        #expect(p.expectedScheduleMs >= 3_600_000, "\(p.expectedScheduleMs) ms")
        #expect(
            p.expectedScheduleMs == (2_000 + 6_000 + 18_000 + 54_000 + 162_000 + 486_000 + 1_458_000 + 4 * 1_800_000)
                / 2)
    }

    @Test func transientFailuresRetryWithFullJitterThenGiveUp() {
        let p = RetryPolicy()
        var rng = SystemRandomNumberGenerator()
        for attempt in 1..<p.maxAttempts {
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
            p.decide(after: .transient("UNAVAILABLE: alert-service down"), attempt: 12)
                == .fail(error: "gave up after 12 attempts: UNAVAILABLE: alert-service down"))
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

    @Test func anUnprocessedAttemptIsPostponedEvenAtTheLastAttempt() {
        let p = RetryPolicy()
        for attempt in [1, p.maxAttempts, p.maxAttempts + 5] {
            guard
                case .postpone(let delay) = p.decide(after: .unprocessed("UNAVAILABLE: no endpoint"), attempt: attempt)
            else {
                Issue.record("attempt \(attempt) should be postponed, not counted")
                return
            }
            #expect(delay >= p.postponeMs / 2 && delay <= p.postponeMs)
        }
    }

    @Test func poisonAfterTooManyDeliveries() {
        var p = RetryPolicy()
        p.maxDeliveries = 3
        #expect(!p.isPoison(deliveries: 3))
        #expect(p.isPoison(deliveries: 4))
    }
}
