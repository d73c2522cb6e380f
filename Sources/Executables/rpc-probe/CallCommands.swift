// CallCommands: the rpc-probe verbs that make calls — call, ping, bench.

import ArgumentParser
import Foundation
import Histogram
import MeshLoop
import MeshProto
import MeshRPC
import MeshWire
import SwiftProtobuf

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a method with a JSON request and print the JSON response.",
        discussion: """
            -d takes the JSON itself, @file to read it from a file, or @- to read a stream of JSON \
            objects from stdin: one call each, one JSON line each (a failed call prints \
            {"error": {"code": …, "message": …}}).
            """)
    @OptionGroup var probe: ProbeOptions
    @Argument(help: "The method: Service/Method, Service.Method, Method, or #ssss.mmmm.") var method: String
    @Option(name: [.customShort("d"), .customLong("data")], help: "The request: '{json}', @file or @- (default {}).")
    var data: String = "{}"

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            let m = try s.resolve(method)
            if data == "@-" {
                let input = FileHandle.standardInput.readDataToEndOfFile()
                let objects: [String]
                do {
                    objects = try JSONStream.split(String(decoding: input, as: UTF8.self))
                } catch {
                    throw ProbeFailure(status: 64 + Int32(StatusCode.invalidArgument.rawValue), "stdin: \(error)")
                }
                var firstFailure: RPCError?
                for object in objects {
                    switch s.callJSON(m, json: object) {
                    case .success(let json):
                        print(json)
                    case .failure(let e):
                        firstFailure = firstFailure ?? e
                        print(#"{"error": {"code": "\#(e.code.name)", "message": \#(jsonQuoted(e.message))}}"#)
                    }
                    fflush(nil)
                }
                if let firstFailure { throw ExitCode(64 + Int32(firstFailure.code.rawValue)) }
                return
            }
            let json: String
            if data.hasPrefix("@") {
                let path = String(data.dropFirst())
                guard let contents = FileManager.default.contents(atPath: path) else {
                    throw ProbeFailure(status: 64, "-d @\(path): cannot read the file")
                }
                json = String(decoding: contents, as: UTF8.self)
            } else {
                json = data
            }
            let result = s.callJSON(m, json: json)
            print(try result.mapError(ProbeFailure.init).get())
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure PING/PONG round trips (no handler runs).")
    @OptionGroup var probe: ProbeOptions
    @Option(name: .short, help: "Number of pings.") var n: Int = 5
    @Option(help: "Pause between pings (e.g. 0, 100ms).") var interval: String = "0"

    func validate() throws {
        guard n > 0 else { throw ValidationError("-n: must be at least 1") }
        _ = try Duration.parseMs(interval, option: "--interval")
    }

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            let pause = try Duration.parseMs(interval, option: "--interval")
            var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            for i in 0..<n {
                let rtt = try s.wait { done in s.client.ping(timeoutMs: s.timeoutMs, completion: done) }
                    .mapError(ProbeFailure.init).get()
                _ = h.record(rtt)
                if n <= 20 || probe.verbose {
                    print(
                        String(format: "pong from %@: seq=%d time=%.1f µs", "\(s.endpoint)", i + 1, Double(rtt) / 1e3))
                }
                if pause > 0 { s.wait { done in sleepOnLoop(s.loop, ms: pause) { done(()) } } }
            }
            print(
                String(
                    format: "%d pings to %@: rtt min/p50/p99/max = %.1f/%.1f/%.1f/%.1f µs", n, "\(s.endpoint)",
                    Double(h.min) / 1e3, Double(h.valueAtPercentile(50)) / 1e3, Double(h.valueAtPercentile(99)) / 1e3,
                    Double(h.max) / 1e3))
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a method N times with C calls in flight on one connection; print throughput and latency.",
        discussion: "Without -d each call sends an empty (all-defaults) protobuf request; with -d the JSON request.")
    @OptionGroup var probe: ProbeOptions
    @Argument(help: "The method to call.") var method: String
    @Option(name: .short, help: "Number of calls measured.") var n: Int = 10_000
    @Option(name: .short, help: "Calls in flight at once.") var c: Int = 1
    @Option(help: "Calls made first and not measured.") var warmup: Int?
    @Option(name: [.customShort("d"), .customLong("data")], help: "A JSON request (default: empty binary request).")
    var data: String?
    @Flag(help: "Print the result as one JSON object.") var json = false

    func validate() throws {
        guard n > 0, c > 0 else { throw ValidationError("-n and -c: must be at least 1") }
    }

    func run() throws {
        try reportingFailures {
            let s = try ProbeSession(probe)
            defer { s.close() }
            let m = try s.resolve(method)
            var md = s.metadata
            var payload: [UInt8] = []
            if let data {
                md["content-type"] = "application/json"
                payload = Array(data.utf8)
            }
            let warm = warmup ?? min(1_000, n / 10)
            let concurrency = c
            let methodID = m.id
            let timeoutMs = s.timeoutMs
            var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var errors: [String: Int] = [:]

            func runPhase(_ total: Int, record: Bool) -> Double {
                var issued = 0
                var finished = 0
                let start = EventLoop.hrtimeNs()
                func issue() {
                    guard issued < total else { return }
                    issued += 1
                    s.client.call(methodID: methodID, payload: payload, metadata: md, timeoutMs: timeoutMs) { result in
                        finished += 1
                        if record {
                            switch result {
                            case .success(let r): _ = h.record(r.latencyNs)
                            case .failure(let e): errors[e.code.name, default: 0] += 1
                            }
                        }
                        issue()
                    }
                }
                for _ in 0..<min(concurrency, total) { issue() }
                s.loop.run(until: { finished == total })
                return Double(EventLoop.hrtimeNs() - start) / 1e9
            }
            if warm > 0 { _ = runPhase(warm, record: false) }
            let seconds = runPhase(n, record: true)
            let rate = Double(n) / seconds
            func us(_ p: Double) -> Double { Double(h.valueAtPercentile(p)) / 1e3 }
            if json {
                let errorsJSON = errors.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(
                    separator: ", ")
                print(
                    String(
                        format:
                            #"{"method": "%@", "calls": %d, "concurrency": %d, "seconds": %.4f, "calls_per_s": %.1f, "p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "p999_us": %.1f, "max_us": %.1f, "errors": {%@}}"#,
                        m.fullName, n, c, seconds, rate, us(50), us(90), us(99), us(99.9), Double(h.max) / 1e3,
                        errorsJSON))
            } else {
                print(
                    String(format: "%@: %d calls, %d in flight, %.3f s: %.0f calls/s", m.fullName, n, c, seconds, rate))
                print(
                    String(
                        format: "latency µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f", us(50), us(90),
                        us(99),
                        us(99.9), Double(h.max) / 1e3))
                if !errors.isEmpty {
                    print(
                        "errors: "
                            + errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                }
            }
            if let first = errors.keys.sorted().first, let code = StatusCode(name: first) {
                throw ExitCode(64 + Int32(code.rawValue))
            }
        }
    }
}
