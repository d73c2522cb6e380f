// NetworkLab: "machines" for tests — Linux network namespaces on one private switch, made and
// removed by the test.

public import Foundation

/// Hosts as network namespaces, each with one veth link to a bridge in a switch namespace of
/// their own, addressed 10.213.0.x/24. The addresses exist only inside these namespaces, and no
/// namespace has a route anywhere else: traffic cannot leave the lab. Partitions are blackhole
/// routes between hosts (packets vanish, as on a cut cable: TCP waits, nothing answers).
/// `stop()` kills every process the lab started and deletes the namespaces, which deletes the
/// links with them.
public final class NetworkLab: @unchecked Sendable {
    public let hosts: [String]
    private let tag = String(UUID().uuidString.prefix(6)).lowercased()
    private var started: [(host: String, process: Process)] = []
    private var namespaces: [String] = []

    /// Why the lab cannot run here (not root, no `ip`, no namespaces), or nil.
    public static func unavailable() -> String? {
        guard getuid() == 0 else { return "network namespaces need root; run the suite as root" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return "no /usr/sbin/ip (iproute2)" }
        let probe = "amprobe\(getpid())"
        let add = runProcess("/usr/sbin/ip", ["netns", "add", probe])
        _ = runProcess("/usr/sbin/ip", ["netns", "del", probe])
        return add.status == 0 ? nil : "cannot create a network namespace: \(add.stderr)"
    }

    public init(hosts: [String]) throws {
        self.hosts = hosts
        do {
            let sw = namespace("switch")
            try ip(["netns", "add", sw])
            namespaces.append(sw)
            try ip(["-n", sw, "link", "add", "br0", "type", "bridge"])
            try ip(["-n", sw, "link", "set", "br0", "up"])
            for (i, host) in hosts.enumerated() {
                let ns = namespace(host)
                try ip(["netns", "add", ns])
                namespaces.append(ns)
                let inside = "am\(tag)\(i)h"
                let outside = "am\(tag)\(i)s"
                try ip(["-n", ns, "link", "add", inside, "type", "veth", "peer", "name", outside, "netns", sw])
                try ip(["-n", sw, "link", "set", outside, "master", "br0", "up"])
                try ip(["-n", ns, "link", "set", "lo", "up"])
                try ip(["-n", ns, "addr", "add", address(host) + "/24", "dev", inside])
                try ip(["-n", ns, "link", "set", inside, "up"])
            }
        } catch {
            stop()
            throw error
        }
    }

    private func namespace(_ host: String) -> String { "am\(tag)-\(host)" }

    private func ip(_ args: [String]) throws {
        let r = runProcess("/usr/sbin/ip", args)
        guard r.status == 0 else {
            throw NSError(
                domain: "NetworkLab", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "ip \(args.joined(separator: " ")): \(r.stderr)"])
        }
    }

    /// The host's address: 10.213.0.(index + 10).
    public func address(_ host: String) -> String {
        guard let i = hosts.firstIndex(of: host) else { preconditionFailure("no host \(host)") }
        return "10.213.0.\(i + 10)"
    }

    /// Starts `path args` on `host`, its output appended to `log`.
    @discardableResult
    public func start(_ host: String, _ path: String, _ args: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        // `ip netns exec` enters the namespace and execs the program: the pid is the program's.
        p.arguments = ["netns", "exec", namespace(host), path] + args
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        started.append((host, p))
        return p
    }

    /// Runs `path args` on `host` to its end.
    public func run(_ host: String, _ path: String, _ args: [String]) -> ProcessResult {
        runProcess("/usr/sbin/ip", ["netns", "exec", namespace(host), path] + args)
    }

    /// SIGKILLs every process started on `host`: the machine is gone.
    public func killAll(on host: String) {
        for (h, p) in started where h == host && p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for (h, p) in started where h == host { p.waitUntilExit() }
    }

    /// Sends `signal` to every process started on `hosts` (SIGSTOP: a machine that stalls).
    public func signal(_ signal: Int32, on hosts: [String]) {
        for (h, p) in started where hosts.contains(h) && p.isRunning { kill(p.processIdentifier, signal) }
    }

    /// Cuts every host of `a` off from every host of `b`, both ways.
    public func partition(_ a: [String], _ b: [String]) throws { try routes("add", a, b) }

    /// Undoes `partition(a, b)`.
    public func heal(_ a: [String], _ b: [String]) throws { try routes("del", a, b) }

    private func routes(_ verb: String, _ a: [String], _ b: [String]) throws {
        for x in a {
            for y in b {
                try ip(["-n", namespace(x), "route", verb, "blackhole", address(y) + "/32"])
                try ip(["-n", namespace(y), "route", verb, "blackhole", address(x) + "/32"])
            }
        }
    }

    public func stop() {
        for (_, p) in started where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for (_, p) in started { p.waitUntilExit() }
        started.removeAll()
        for ns in namespaces.reversed() { _ = runProcess("/usr/sbin/ip", ["netns", "del", ns]) }
        namespaces.removeAll()
    }
}
