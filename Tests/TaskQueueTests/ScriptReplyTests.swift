// ScriptReplyTests: the consumer scripts' replies decoded without Redis, malformed ones refused.

import MeshRedis
import Testing

@testable import TaskQueue

@Suite struct ScriptReplyTests {
    func bulk(_ s: String) -> RedisValue { .bulk(Array(s.utf8)) }
    func array(_ items: RedisValue...) -> RedisValue { .array(items) }

    @Test func startRepliesOfEveryShape() {
        #expect(StartReply.decode(array(bulk("run"), bulk("hello"), bulk("3"))) == .run(message: "hello", attempt: 3))
        #expect(StartReply.decode(array(bulk("run"), bulk(""), bulk("1"))) == .run(message: "", attempt: 1))
        #expect(
            StartReply.decode(array(bulk("poison"), bulk("delivered 11 times"))) == .poison(error: "delivered 11 times")
        )
        #expect(StartReply.decode(array(bulk("lost"))) == .lost)
        #expect(StartReply.decode(array(bulk("gone"))) == .gone)
        #expect(StartReply.decode(array(bulk("done"), bulk("SUCCESS"))) == .done(state: "SUCCESS"))
        #expect(StartReply.done(state: "SUCCESS").skipReason == "done SUCCESS")
    }

    @Test(arguments: [
        RedisValue.array([]), .array(nil), .bulk(nil), .integer(1),
        .array([.bulk(Array("run".utf8)), .bulk(Array("m".utf8))]),  // no attempt
        .array([.bulk(Array("run".utf8)), .bulk(Array("m".utf8)), .bulk(Array("three".utf8))]),
        .array([.bulk(Array("lost".utf8)), .bulk(Array("extra".utf8))]),
        .array([.bulk(Array("later".utf8))]),
    ])
    func malformedStartRepliesAreRefused(_ value: RedisValue) {
        #expect(StartReply.decode(value) == nil)
    }

    @Test func aBatchDecodesOnlyWhole() {
        let two = array(array(bulk("lost")), array(bulk("gone")))
        #expect(StartReply.decodeBatch(two, count: 2) == [.lost, .gone])
        #expect(StartReply.decodeBatch(two, count: 3) == nil, "a reply per entry, or nothing")
        #expect(StartReply.decodeBatch(array(array(bulk("lost")), .integer(0)), count: 2) == nil)
        #expect(
            FinishReply.decodeBatch(array(bulk("ok"), bulk("duplicate"), bulk("gone")), count: 3) == [
                .ok, .duplicate, .gone,
            ])
        #expect(FinishReply.decodeBatch(array(bulk("ok"), bulk("OK")), count: 2) == nil)
    }

    @Test func finishAndPromoteReplies() {
        #expect(FinishReply.decode(.status("ok")) == .ok)
        #expect(FinishReply.decode(bulk("duplicate")) == .duplicate)
        #expect(FinishReply.decode(.integer(1)) == nil)
        #expect(PromoteReply.decode(.integer(7)) == PromoteReply(due: 7))
        #expect(PromoteReply.decode(.integer(-1)) == nil)
        #expect(PromoteReply.decode(bulk("7")) == nil)
    }

    @Test func renewAndSubmitReplies() {
        #expect(RenewReply.decode(array()) == RenewReply(lost: []))
        #expect(RenewReply.decode(array(bulk("1-0"), bulk("2-0"))) == RenewReply(lost: ["1-0", "2-0"]))
        #expect(RenewReply.decode(array(bulk("1-0"), .integer(2))) == nil)
        #expect(RenewReply.decode(.integer(0)) == nil)
        #expect(SubmitOutcome.decode(array(bulk("created"), bulk("t1"), bulk("1700000000000"))) == .created(id: "t1"))
        #expect(SubmitOutcome.decode(array(bulk("existing"), bulk("t1"))) == .existing(id: "t1"))
        #expect(SubmitOutcome.decode(array(bulk("conflict"), bulk("t1"))) == .conflict(id: "t1"))
        #expect(SubmitOutcome.decode(array(bulk("maybe"), bulk("t1"))) == nil, "not read as a conflict")
        #expect(SubmitOutcome.decode(array(bulk("created"))) == nil)
    }

    @Test func answersTellRefusalFromNonsense() {
        func kind(_ a: ScriptAnswer<FinishReply>) -> String {
            switch a {
            case .reply(let r): "reply \(r.rawValue)"
            case .refused: "refused"
            case .unanswered: "unanswered"
            case .malformed: "malformed"
            }
        }
        #expect(kind(ScriptAnswer(.success(.status("ok")), FinishReply.decode)) == "reply ok")
        #expect(kind(ScriptAnswer(.success(.error("LOADING Redis is loading")), FinishReply.decode)) == "refused")
        #expect(kind(ScriptAnswer(.failure(RedisError("not connected")), FinishReply.decode)) == "refused")
        #expect(
            kind(ScriptAnswer(.failure(RedisError("no reply", replyLost: true)), FinishReply.decode)) == "unanswered",
            "sent and never answered: it may have run")
        #expect(kind(ScriptAnswer(.success(.integer(3)), FinishReply.decode)) == "malformed")
    }
}
