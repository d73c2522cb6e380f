// rpc-probe: the alertmesh RPC mesh's grpcurl — list, describe, call, health, stats, ping, bench.

import ArgumentParser
import MeshOptions

@main
struct RPCProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc-probe",
        abstract: "Talk to any alertmesh RPC endpoint: discover, call, health-check, measure.",
        usage: """
            rpc-probe ADDR list [SERVICE]
            rpc-probe ADDR describe METHOD
            rpc-probe ADDR call METHOD [-d '{json}' | -d @file | -d @-]
            rpc-probe ADDR health [SERVICE]
            rpc-probe ADDR stats
            rpc-probe ADDR ping [-n N]
            rpc-probe ADDR bench METHOD [-n N] [-c C]
            """,
        discussion: """
            ADDR is unix:/path.sock, /abs/path.sock, tcp://host:port or host:port.
            Exit status: 0 on success; 64 for a usage error; 64 + the status code when a call fails \
            (the grpcurl convention: 68 DEADLINE_EXCEEDED, 76 UNIMPLEMENTED, 78 UNAVAILABLE, …); \
            1 when health reports NOT_SERVING.
            Every option can also be set as ALERTMESH_<OPTION> (ALERTMESH_TIMEOUT=5s); a flag beats the environment.
            """,
        subcommands: [List.self, Describe.self, Call.self, Health.self, Stats.self, Ping.self, Bench.self])

    /// Accepts grpcurl's order (`rpc-probe ADDR verb …`) as well as `rpc-probe verb ADDR …`.
    static func normalise(_ arguments: [String]) -> [String] {
        let verbs = Set(configuration.subcommands.map { $0._commandName })
        guard let first = arguments.first, !first.hasPrefix("-"), !verbs.contains(first),
            arguments.count >= 2, verbs.contains(arguments[1])
        else { return arguments }
        return [arguments[1], first] + arguments.dropFirst(2)
    }

    static func main() {
        mainWithEnvironment(arguments: normalise(Array(CommandLine.arguments.dropFirst())))
    }
}
