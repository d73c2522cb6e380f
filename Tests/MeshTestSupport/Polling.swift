// Polling: wait for a condition that other processes make true, with a bound.

import Foundation

/// Checks `condition` every `everyMs` until it holds or `seconds` pass; false when time ran out.
/// (For work on a test's own loop, `runLoop` runs the loop instead of sleeping.)
public func poll(seconds: Double, everyMs: UInt32, until condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(everyMs * 1_000)
    }
    return false
}
