// LoopbackSocket: plain POSIX sockets on a free loopback port, for tests that need a peer that is
// deliberately not built on MeshLoop (a mute listener, an HTTP impostor, a UDP receiver).

import Glibc

public struct LoopbackSocket: Sendable {
    public let fd: Int32
    public let port: UInt16

    /// A TCP socket listening on 127.0.0.1 at a free port.
    public static func listenTCP(backlog: Int32 = 4) -> LoopbackSocket {
        let s = bound(type: Int32(SOCK_STREAM.rawValue))
        _ = listen(s.fd, backlog)
        return s
    }

    /// A UDP socket bound to 127.0.0.1 at a free port.
    public static func bindUDP() -> LoopbackSocket { bound(type: Int32(SOCK_DGRAM.rawValue)) }

    /// A non-blocking TCP connect to this socket (to fill an accept queue); returns the client fd.
    public func connectNonBlocking() -> Int32 {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var addr = LoopbackSocket.loopback(port: port)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return c
    }

    public func close() { _ = Glibc.close(fd) }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        return addr
    }

    private static func bound(type: Int32) -> LoopbackSocket {
        let fd = socket(AF_INET, type, 0)
        var addr = loopback(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return LoopbackSocket(fd: fd, port: UInt16(bigEndian: addr.sin_port))
    }
}
