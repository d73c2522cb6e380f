// ProbeOptions: the address and connection options every rpc-probe verb takes.

import ArgumentParser
import Foundation
import MeshLoop
import MeshOptions
import MeshWire

struct ProbeOptions: ParsableArguments {
    @Argument(help: "The endpoint: unix:/path.sock, /abs/path.sock, tcp://host:port or host:port.")
    var address: String

    @Option(
        name: [.customLong("timeout"), .customLong("max-time")],
        help: "Deadline of each call, sent to the server (e.g. 2000, 500ms, 2s; 0 = none).")
    var timeout: String = "10s"

    @Option(help: "Give up connecting after this long (e.g. 3s).")
    var connectTimeout: String = "5s"

    @Option(
        name: [.customShort("H"), .customLong("header")],
        help: "Request metadata 'key: value' (repeatable); ${VAR} is expanded from the environment.")
    var headers: [String] = []

    @Option(help: "Largest response body accepted, in bytes (announced in HELLO).")
    var maxMsg: UInt32 = HelloSettings.defaultMaxFrame

    @Flag(name: .shortAndLong, help: "Show connection, handshake settings, metadata and timings on stderr.")
    var verbose = false

    @Flag(help: "Print every frame sent and received (decoded header + hex) on stderr.")
    var dumpFrames = false

    @OptionGroup var tls: TLSOptions
    @OptionGroup var loopOptions: LoopOptions

    var endpoint: Endpoint {
        get throws {
            do { return try Endpoint(parsing: address) } catch { throw ValidationError("ADDR: \(error)") }
        }
    }

    var timeoutMs: UInt64 { get throws { try Duration.parseMs(timeout, option: "--timeout") } }
    var connectTimeoutMs: UInt64 { get throws { try Duration.parseMs(connectTimeout, option: "--connect-timeout") } }

    var metadata: Metadata {
        get throws {
            var md = Metadata()
            for h in headers {
                guard let colon = h.firstIndex(of: ":") else {
                    throw ValidationError("--header: \"\(h)\" is not 'key: value'")
                }
                let key = h[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = expandEnvironment(String(h[h.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
                guard Metadata.isValidKey(key) else {
                    throw ValidationError("--header: bad key \"\(key)\" (want [a-z0-9-_.])")
                }
                md[key] = value
            }
            return md
        }
    }

    func validate() throws {
        _ = try endpoint
        _ = try timeoutMs
        _ = try connectTimeoutMs
        _ = try metadata
        guard maxMsg >= 1024 else { throw ValidationError("--max-msg: must be at least 1024 bytes") }
    }
}

enum Duration {
    /// "1500", "1500ms", "2s", "1m" → milliseconds.
    static func parseMs(_ text: String, option: String) throws -> UInt64 {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            if let v = Double(t.dropLast(suffix.count)), v >= 0, v * factor < 1e12 { return UInt64(v * factor) }
            throw ValidationError("\(option): \"\(text)\" is not a duration (e.g. 500ms, 2s)")
        }
        guard let v = UInt64(t) else {
            throw ValidationError("\(option): \"\(text)\" is not a duration (e.g. 500ms, 2s)")
        }
        return v
    }
}

/// Replaces ${NAME} with the environment's value (empty when unset), for secrets in headers.
func expandEnvironment(_ text: String) -> String {
    var out = ""
    var rest = Substring(text)
    while let start = rest.range(of: "${") {
        out += rest[..<start.lowerBound]
        guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
        let name = String(rest[start.upperBound..<end])
        out += ProcessInfo.processInfo.environment[name] ?? ""
        rest = rest[rest.index(after: end)...]
    }
    return out + rest
}
