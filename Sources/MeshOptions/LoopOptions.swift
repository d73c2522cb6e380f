// LoopOptions: how a process's event loop waits for I/O (--busy-poll-us, --adaptive-poll-us).

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

    /// On by default: the spin is adaptive (only for messages that lately came within the limit,
    /// never longer than it), so a busy or distant peer costs no CPU.
    @Option(
        help: ArgumentHelp(
            "Spin, rather than sleep, for an RPC message expected within this long: a reply, or a caller's next request, that lately came that fast on its connection (0 = off; at most 100000).",
            valueName: "µs"))
    public var adaptivePollUs: Int = 50

    public init() {}

    public func validate() throws {
        for (name, value) in [("--busy-poll-us", busyPollUs), ("--adaptive-poll-us", adaptivePollUs)] {
            guard (0...EventLoop.maxBusyPollMicroseconds).contains(value) else {
                throw ValidationError("\(name): \(value) is not between 0 and \(EventLoop.maxBusyPollMicroseconds)")
            }
        }
    }

    public func apply(to loop: EventLoop) throws(UVError) {
        try loop.busyPoll(microseconds: busyPollUs)
        try loop.adaptivePoll(microseconds: adaptivePollUs)
    }
}
