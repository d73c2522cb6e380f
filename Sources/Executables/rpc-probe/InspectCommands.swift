// InspectCommands: the rpc-probe verbs that look at a service — list, describe, health, stats.

import ArgumentParser
import Foundation
import Histogram
import MeshLoop
import MeshProto
import MeshRPC
import MeshWire
import SwiftProtobuf

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the services and methods the endpoint serves.")
    @OptionGroup var probe: ProbeOptions
    @Argument(help: "Only this service (e.g. alertmesh.v1.AlertService).") var service: String?

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            let r = try s.reflection()
            let services = r.services.filter { service == nil || $0.name == service }
            if let service, services.isEmpty {
                throw ProbeFailure(
                    status: 64 + Int32(StatusCode.notFound.rawValue),
                    "unknown service \(service) (known: \(r.services.map(\.name).joined(separator: ", ")))")
            }
            for svc in services {
                print("\(svc.name)  #\(String(format: "%04x", svc.id))")
                for m in svc.methods {
                    print("  \(m.fullName)  \(MethodID(rawValue: m.id))  \(m.requestType) → \(m.responseType)")
                }
            }
        }
    }
}

struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a method's messages as .proto text and a JSON request template.")
    @OptionGroup var probe: ProbeOptions
    @Argument(help: "The method: Service/Method, Service.Method, Method, or #ssss.mmmm.") var method: String

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            let m = try s.resolve(method)
            print("\(m.fullName)  \(MethodID(rawValue: m.id))\(m.idempotent ? "  (idempotent)" : "")")
            print("\nrequest \(m.requestType):\n\(m.requestSchema)")
            print("\nresponse \(m.responseType):\n\(m.responseSchema)")
            print("\nrequest template:\n\(m.requestTemplate)")
        }
    }
}

struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check whether the server (or one service) is SERVING; exit 0 if so, 1 if not.")
    @OptionGroup var probe: ProbeOptions
    @Argument(help: "A service name; empty checks the whole server.") var service: String = ""

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            var req = Alertmesh_V1_HealthCheckRequest()
            req.service = service
            let r = try s.call(SystemServices.health, req)
            print(r.status == .serving ? "SERVING" : r.reason.isEmpty ? "NOT_SERVING" : "NOT_SERVING: \(r.reason)")
            if r.status != .serving {
                throw ProbeFailure(status: 1, "\(service.isEmpty ? "server" : service) is not serving")
            }
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the server's counters: connections, calls, latency.")
    @OptionGroup var probe: ProbeOptions
    @Flag(help: "Print the raw stats as JSON.") var json = false

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            let r = try s.call(SystemServices.stats, Alertmesh_V1_StatsRequest())
            if json {
                print(try r.jsonString())
                return
            }
            print(String(format: "server %@ (build %@), up %.1f s", r.server, r.build, r.uptimeSeconds))
            print(
                "connections \(r.connectionsOpen) open, \(r.connectionsTotal) total; calls in flight \(r.callsInFlight); "
                    + "bytes in \(r.bytesIn), out \(r.bytesOut); protocol errors \(r.protocolErrors)")
            let header = ["method", "calls", "ok", "errors", "p50 µs", "p90 µs", "p99 µs", "max µs"]
            var rows = [header]
            for m in r.methods {
                let ok = m.byStatus["OK"] ?? 0
                let errors = m.byStatus.filter { $0.key != "OK" }.sorted { $0.key < $1.key }.map {
                    "\($0.key)=\($0.value)"
                }
                rows.append([
                    m.method, "\(m.calls)", "\(ok)", errors.isEmpty ? "-" : errors.joined(separator: ","),
                    String(format: "%.1f", m.latencyP50Ms * 1e3), String(format: "%.1f", m.latencyP90Ms * 1e3),
                    String(format: "%.1f", m.latencyP99Ms * 1e3), String(format: "%.1f", m.latencyMaxMs * 1e3),
                ])
            }
            printTable(rows)
            if !r.figures.isEmpty {
                print("")
                printTable(
                    [["figure", "value"]]
                        + r.figures.sorted { $0.key < $1.key }.map { name, value in
                            [
                                name,
                                value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value),
                            ]
                        })
            }
        }
    }
}
