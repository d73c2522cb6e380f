// LoopRunning: run a test's loop until a condition holds, with a bound.

public import MeshLoop

/// Runs `loop` until `condition` holds or `seconds` pass.
///
/// Work done on other threads (a client on a background thread, say) does not wake a loop, so a
/// timer looks every 5 ms.
///
/// - Returns: false when the time ran out first.
public func runLoop(_ loop: EventLoop, seconds: Double = 20, until condition: () -> Bool) -> Bool {
    let guardTimer = try! LoopTimer(loop: loop)
    var timedOut = false
    guardTimer.start(afterMs: UInt64(seconds * 1000)) { timedOut = true }
    guardTimer.unref()
    let poll = try! LoopTimer(loop: loop)
    poll.start(afterMs: 5, repeatMs: 5) {}
    loop.run(until: { condition() || timedOut })
    guardTimer.close()
    poll.close()
    return !timedOut
}
