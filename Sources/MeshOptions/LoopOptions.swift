// LoopOptions: how a process's event loop waits for I/O (--busy-poll-us).

public import ArgumentParser
public import MeshLoop

/// Event-loop options; include with `@OptionGroup var loopOptions: LoopOptions` and call
/// `apply(to:)` on the loop before it runs.
public struct LoopOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "After each read, poll this long before sleeping: lower latency per call for CPU time (0 = off; at most 100000). Leave off where cores are shared.",
            valueName: "µs"))
    public var busyPollUs: Int = 0

    public init() {}

    public func validate() throws {
        guard (0...EventLoop.maxBusyPollMicroseconds).contains(busyPollUs) else {
            throw ValidationError(
                "--busy-poll-us: \(busyPollUs) is not between 0 and \(EventLoop.maxBusyPollMicroseconds)")
        }
    }

    public func apply(to loop: EventLoop) throws(UVError) {
        try loop.busyPoll(microseconds: busyPollUs)
    }
}
