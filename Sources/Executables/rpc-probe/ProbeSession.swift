// ProbeSession: one rpc-probe run — a loop, a client, blocking helpers, errors mapped to exit codes.

import ArgumentParser
import Foundation
import MeshLoop
import MeshProto
import MeshRPC
import MeshWire

/// A failure rpc-probe reports: one line on stderr and an exit status.
struct ProbeFailure: Error {
    var status: Int32
    var message: String

    init(_ error: RPCError) {
        status = 64 + Int32(error.code.rawValue)
        message = "\(error.code.name): \(error.message)"
    }

    init(status: Int32, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Runs `body` and turns a `ProbeFailure` into its line on stderr and exit status.
func reportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let f as ProbeFailure {
        FileHandle.standardError.write(Data("rpc-probe: \(f.message)\n".utf8))
        throw ExitCode(f.status)
    }
}

final class ProbeSession {
    let loop: EventLoop
    let client: RPCClient
    let options: ProbeOptions
    let endpoint: Endpoint
    let timeoutMs: UInt64
    let metadata: Metadata
    private var reflectionCache: Alertmesh_V1_ReflectionListResponse?

    init(_ options: ProbeOptions) throws {
        self.options = options
        endpoint = try options.endpoint
        timeoutMs = try options.timeoutMs
        metadata = try options.metadata
        loop = try EventLoop()
        try options.loopOptions.apply(to: loop)
        var config = RPCClient.Configuration(name: "rpc-probe")
        config.connectTimeoutMs = try options.connectTimeoutMs
        config.maxFrame = options.maxMsg
        config.timeouts.pingIntervalMs = 0
        try options.tls.check([endpoint], option: "ADDR")
        config.tls = try options.tls.context()
        client = RPCClient(loop: loop, endpoints: [endpoint], configuration: config)
        if options.verbose {
            client.onEvent = { [unowned self] ep, event in self.verbose(ProbeSession.describe(event, ep)) }
        }
        if options.dumpFrames {
            client.tracer = { _, trace in FrameDump.print(trace) }
        }
    }

    func verbose(_ line: String) {
        guard options.verbose else { return }
        FileHandle.standardError.write(Data("* \(line)\n".utf8))
    }

    static func describe(_ event: ClientEvent, _ ep: Endpoint) -> String {
        switch event {
        case .connecting: return "connecting to \(ep)"
        case .connected(let ms): return String(format: "connected in %.2f ms", ms)
        case .secured(let identity, let parameters, let ms):
            let who = identity.map { "alertmesh://" + $0 } ?? "no alertmesh:// identity"
            return String(format: "TLS done in %.2f ms: %@, peer identity %@", ms, parameters, who)
        case .ready(let s, let ms):
            return String(
                format:
                    "handshake done in %.2f ms: server \"%@\" build %@, max-frame %u, max-concurrent %u, ping-interval %u ms%@",
                ms, s.peer, s.build.isEmpty ? "-" : s.build, s.maxFrame, s.maxConcurrent, s.pingIntervalMs,
                s.features.isEmpty ? "" : ", features " + s.features.joined(separator: ","))
        case .disconnected(let reason): return "disconnected: \(reason)"
        case .backoff(let ms, let reason): return "endpoint out of rotation (\(reason)); next try in \(ms) ms"
        }
    }

    /// Starts an async operation and runs the loop until it completes.
    func wait<T>(_ start: (@escaping (T) -> Void) -> Void) -> T {
        var result: T?
        start { result = $0 }
        loop.run(until: { result != nil })
        return result!
    }

    /// Calls a typed method and returns its response, or throws a `ProbeFailure`.
    func call<Req, Res>(_ method: RPCMethod<Req, Res>, _ request: Req) throws -> Res {
        let result = wait { done in
            client.call(method, request, metadata: metadata, timeoutMs: timeoutMs, completion: done)
        }
        return try result.mapError(ProbeFailure.init).get()
    }

    func reflection() throws -> Alertmesh_V1_ReflectionListResponse {
        if let r = reflectionCache { return r }
        let r = try call(SystemServices.reflectionList, Alertmesh_V1_ReflectionListRequest())
        reflectionCache = r
        return r
    }

    /// Finds a method by `svc/Method`, `svc.Method`, a unique bare `Method` (the server's own before
    /// a built-in), or `#0004.0001`.
    func resolve(_ name: String) throws -> Alertmesh_V1_MethodInfo {
        let all = try reflection().services.flatMap(\.methods)
        let wanted = name.trimmingCharacters(in: .whitespaces)
        if let m = all.first(where: { $0.fullName == wanted || $0.fullName == dottedToSlash(wanted) }) { return m }
        if wanted.hasPrefix("#"), let m = all.first(where: { MethodID(rawValue: $0.id).description == wanted }) {
            return m
        }
        let bare = all.filter { $0.name == wanted }
        if bare.count == 1 { return bare[0] }
        // A bare name means the server's own method before a built-in of that name: the
        // built-ins have verbs of their own (`list` is _sys.Reflection/List).
        let own = bare.filter { !$0.fullName.hasPrefix("_sys.") }
        if own.count == 1 { return own[0] }
        let known = all.map(\.fullName).joined(separator: ", ")
        let why = bare.count > 1 ? "ambiguous method \(wanted)" : "unknown method \(wanted)"
        throw ProbeFailure(status: 64 + Int32(StatusCode.unimplemented.rawValue), "\(why) (known: \(known))")
    }

    private func dottedToSlash(_ s: String) -> String {
        guard !s.contains("/"), let dot = s.lastIndex(of: ".") else { return s }
        return s[..<dot] + "/" + s[s.index(after: dot)...]
    }

    /// Calls `method` with a JSON request; returns the JSON response text.
    func callJSON(_ method: Alertmesh_V1_MethodInfo, json: String) -> Result<String, RPCError> {
        var md = metadata
        md["content-type"] = "application/json"
        let started = EventLoop.hrtimeNs()
        if options.verbose {
            verbose("calling \(method.fullName) (\(MethodID(rawValue: method.id))) with a \(timeoutMs) ms deadline")
            for e in md { verbose("request metadata: \(e.key): \(String(decoding: e.value, as: UTF8.self))") }
        }
        let result = wait { done in
            client.call(
                methodID: method.id, payload: Array(json.utf8), metadata: md, timeoutMs: timeoutMs, completion: done)
        }
        if options.verbose {
            if case .success(let r) = result {
                for e in r.metadata {
                    verbose("response metadata: \(e.key): \(String(decoding: e.value, as: UTF8.self))")
                }
            }
            let status = (try? result.get()) != nil ? "OK" : (result.failureCode?.name ?? "?")
            verbose(String(format: "status %@ after %.3f ms", status, Double(EventLoop.hrtimeNs() - started) / 1e6))
        }
        return result.map { String(decoding: $0.payload, as: UTF8.self) }
    }

    /// Closes the client and lets the loop finish.
    func close() {
        client.close()
        loop.run()
        try? loop.close()
    }
}

extension Result where Failure == RPCError {
    var failureCode: StatusCode? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}

/// `--dump-frames`: a decoded header line and a hex dump for each frame.
enum FrameDump {
    static func print(_ trace: FrameTrace) {
        var out = ""
        switch trace {
        case .sentPreface(let p): out = "> PREFACE v\(p.major).\(p.minor)\n" + hex(p.bytes)
        case .receivedPreface(let p): out = "< PREFACE v\(p.major).\(p.minor)\n" + hex(p.bytes)
        case .sent(let f): out = "> " + header(f) + "\n" + hex(f.bytes)
        case .received(let f): out = "< " + header(f) + "\n" + hex(f.bytes)
        case .receivedOther(let text): out = "< " + text + "\n"
        }
        FileHandle.standardError.write(Data(out.utf8))
    }

    static func header(_ f: Frame) -> String {
        let h = f.header
        var s =
            "\(f.type) id=\(f.requestID) method=\(MethodID(rawValue: f.methodID)) flags=0x\(String(h.flags.rawValue, radix: 16))"
        s += " aux=\(f.aux) body=\(h.bodyLength)"
        if f.type == .error, let code = StatusCode(rawValue: f.aux) { s += " (\(code.name))" }
        if !f.metadata.isEmpty {
            s +=
                " metadata={"
                + f.metadata.map { "\($0.key): \(String(decoding: $0.value, as: UTF8.self))" }.joined(separator: ", ")
                + "}"
        }
        return s
    }

    static func hex(_ bytes: [UInt8], limit: Int = 512) -> String {
        var out = ""
        let shown = bytes.prefix(limit)
        for start in stride(from: 0, to: shown.count, by: 16) {
            let row = shown[start..<min(shown.count, start + 16)]
            let hexPart = row.map { String(format: "%02x", $0) }.joined(separator: " ")
            let ascii = String(row.map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." })
            out +=
                String(format: "  %04x  ", start) + hexPart.padding(toLength: 48, withPad: " ", startingAt: 0) + "  "
                + ascii + "\n"
        }
        if bytes.count > limit { out += "  … \(bytes.count - limit) more bytes\n" }
        return out
    }
}
