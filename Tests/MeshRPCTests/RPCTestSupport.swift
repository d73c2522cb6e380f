// Shared fixtures for RPC tests: a loop with a safety timeout, temp socket paths, a test service.

import Foundation
import Logging
import MeshLoop
import MeshProto
import MeshWire
import Testing

@testable import MeshRPC

/// A fresh temp directory for sockets, removed by `cleanup()`.
func makeTempDir() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("alertmesh-\(UUID().uuidString.prefix(8))")
        .path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let testLogger: Logger = {
    var l = Logger(label: "test")
    l.logLevel = .critical
    return l
}()

/// Runs `loop` until `condition` holds; fails the test if `seconds` pass first.
func run(
    _ loop: EventLoop, seconds: Double = 10, until condition: () -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let guardTimer = try! LoopTimer(loop: loop)
    var timedOut = false
    guardTimer.start(afterMs: UInt64(seconds * 1000)) { timedOut = true }
    guardTimer.unref()
    loop.run(until: { condition() || timedOut })
    guardTimer.close()
    #expect(!timedOut, "timed out after \(seconds) s", sourceLocation: sourceLocation)
}

/// Runs the loop for `ms` of wall time (to let things that should *not* happen have their chance).
func spin(_ loop: EventLoop, ms: UInt64) {
    let t = try! LoopTimer(loop: loop)
    var done = false
    t.start(afterMs: ms) { done = true }
    loop.run(until: { done })
    t.close()
}

/// Closes everything and checks that the loop has no handle left (`uv_loop_close` == 0).
func finish(_ loop: EventLoop, sourceLocation: SourceLocation = #_sourceLocation) {
    loop.runUntilHandlesClosed(maxTurns: 20)
    #expect(throws: Never.self, sourceLocation: sourceLocation) { try loop.close() }
}

/// A test service: echo with an optional delay and a forced status, to drive every path.
enum TestService {
    /// payload: "sleep:<ms>" answers after ms; "fail:<code>" fails; anything else echoes.
    static let work = RPCMethod<Alertmesh_V1_EchoRequest, Alertmesh_V1_EchoResponse>(
        service: "test.Work", serviceID: 0x0F00, name: "Do", methodID: 1)

    static func register(on server: RPCServer) {
        server.register(work) { request, call in
            let text = String(decoding: request.payload, as: UTF8.self)
            var response = Alertmesh_V1_EchoResponse()
            response.payload = request.payload
            if text.hasPrefix("sleep:"), let ms = UInt64(text.dropFirst(6)) {
                let t = try! LoopTimer(loop: server.loop)
                t.start(afterMs: ms) {
                    t.close()
                    call.respond(response)
                }
            } else if text.hasPrefix("fail:"), let code = UInt32(text.dropFirst(5)),
                let status = StatusCode(rawValue: code)
            {
                call.fail(status, "asked to fail")
            } else {
                call.respond(response)
            }
        }
    }

    static func request(_ text: String) -> Alertmesh_V1_EchoRequest {
        var r = Alertmesh_V1_EchoRequest()
        r.payload = Data(text.utf8)
        return r
    }
}

func makeServer(_ loop: EventLoop, configure: (inout RPCServer.Configuration) -> Void = { _ in }) -> RPCServer {
    var config = RPCServer.Configuration(name: "test-server")
    configure(&config)
    let server = try! RPCServer(loop: loop, configuration: config, logger: testLogger)
    TestService.register(on: server)
    return server
}

func makeClient(
    _ loop: EventLoop, _ endpoints: [Endpoint], configure: (inout RPCClient.Configuration) -> Void = { _ in }
)
    -> RPCClient
{
    var config = RPCClient.Configuration(name: "test-client")
    config.reconnectBackoff = Backoff(initialMs: 20, maxMs: 200)
    configure(&config)
    return RPCClient(loop: loop, endpoints: endpoints, configuration: config)
}
