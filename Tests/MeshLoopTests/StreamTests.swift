// StreamTests: TCP and Unix listeners and connections, large writes, socket-file handling, UDP.

import Foundation
import MeshLoop
import MeshTestSupport
import Testing

@Suite struct StreamTests {
    func tempDir() -> String {
        let p = NSTemporaryDirectory() + "alertmesh-loop-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    @Test(arguments: ["unix", "tcp"])
    func echoLargePayloadBothWays(transport: String) throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        var accepted: [StreamConnection] = []
        let listener = try StreamListener(
            loop: loop, endpoint: transport == "unix" ? .unix(path: dir + "/e.sock") : .tcp(host: "127.0.0.1", port: 0)
        ) { conn in
            accepted.append(conn)
            conn.onRead = { bytes in conn.write(Array(bytes)) }
            conn.startReading()
        }
        if case .tcp(_, let port) = listener.endpoint { #expect(port != 0) }
        // 8 MiB: far more than a socket buffer, so uv_write's queued path is exercised.
        let payload = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var received: [UInt8] = []
        var connected = false
        let client = try StreamConnection.connect(loop: loop, to: listener.endpoint) { result in
            connected = (try? result.get()) != nil
        }
        client.onRead = { received.append(contentsOf: $0) }
        loop.run(until: { connected })
        client.startReading()
        client.write(payload)
        loop.run(until: { received.count >= payload.count })
        #expect(received == payload)
        #expect(client.bytesWritten == UInt64(payload.count))
        client.close()
        loop.run(until: { accepted.allSatisfy { $0.isClosing } })
        #expect(accepted.first?.sawEOF == true)
        listener.close()
        loop.run()
        if transport == "unix" { #expect(!FileManager.default.fileExists(atPath: dir + "/e.sock")) }
        try loop.close()
    }

    @Test func connectionRefusedIsReportedByName() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        var error: UVError?
        let conn = try StreamConnection.connect(loop: loop, to: .unix(path: dir + "/nobody.sock")) { result in
            if case .failure(let e) = result { error = e }
        }
        loop.run(until: { error != nil })
        #expect(error?.name == "ENOENT")
        #expect(error?.description.hasPrefix("connect unix:\(dir)/nobody.sock: ENOENT") == true)
        conn.close()
        var tcpError: UVError?
        // Bind a port, close it, then connect: refused.
        let l = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { $0.close() }
        let ep = l.endpoint
        l.close()
        loop.run()
        let c2 = try StreamConnection.connect(loop: loop, to: ep) { if case .failure(let e) = $0 { tcpError = e } }
        loop.run(until: { tcpError != nil })
        #expect(tcpError?.code == UVError.connectionRefused)
        c2.close()
        loop.run()
        try loop.close()
    }

    @Test func unixSocketIsOwnerOnlyAndStaleFilesAreReplaced() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.sock"
        let loop = try EventLoop()
        // A stale socket file: bound by a socket that is then closed without unlinking.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))

        let listener = try StreamListener(loop: loop, endpoint: .unix(path: path)) { $0.close() }
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)

        // A second listener on a live path is refused, and the live one keeps its file.
        #expect(
            performing: { _ = try StreamListener(loop: loop, endpoint: .unix(path: path)) { $0.close() } },
            throws: { ($0 as? UVError)?.description.contains("another process is listening") == true })
        #expect(FileManager.default.fileExists(atPath: path))

        // A regular file at the path is never deleted.
        let file = dir + "/not-a-socket"
        FileManager.default.createFile(atPath: file, contents: Data("keep".utf8))
        #expect(throws: UVError.self) { _ = try StreamListener(loop: loop, endpoint: .unix(path: file)) { $0.close() } }
        #expect(FileManager.default.contents(atPath: file) == Data("keep".utf8))

        listener.close()
        loop.run()
        try loop.close()
    }

    @Test func tcpPortInUseNamesTheCall() throws {
        let loop = try EventLoop()
        let first = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { $0.close() }
        #expect(
            performing: { _ = try StreamListener(loop: loop, endpoint: first.endpoint) { $0.close() } },
            throws: { ($0 as? UVError)?.description == "listen \(first.endpoint): EADDRINUSE (address already in use)" }
        )
        first.close()
        loop.run()
        try loop.close()
    }
}
