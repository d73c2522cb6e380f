// StreamListener: accepts TCP or Unix-domain stream connections.

internal import CLibUV
import Glibc

/// A listening socket (`uv_tcp_t` or `uv_pipe_t`) that hands each accepted connection to a callback.
///
/// TCP listeners bind the given host (loopback unless told otherwise) and port; port 0 picks a free
/// one, read back from `endpoint`. Unix listeners create the socket file with owner-only permissions
/// (mode 0600 unless told otherwise), replace a stale file left by a dead process, refuse to steal a
/// path another process is serving, and remove the file when closed.
public final class StreamListener: LoopHandle {
    /// The bound address (with the real port when 0 was asked for).
    public private(set) var endpoint: Endpoint
    private var onConnection: ((StreamConnection) -> Void)?
    /// Accept failures (EMFILE, …); the listener keeps listening.
    public var onAcceptError: ((UVError) -> Void)?
    private let transport: StreamConnection.Transport
    private var ownedSocketPath: String?

    public init(
        loop: EventLoop, endpoint: Endpoint, backlog: Int32 = 511, unixSocketMode: UInt32 = 0o600,
        onConnection: @escaping (StreamConnection) -> Void
    ) throws(UVError) {
        self.endpoint = endpoint
        self.onConnection = onConnection
        switch endpoint {
        case .tcp(let host, let port):
            transport = .tcp
            let address = try SocketAddress.resolveBlocking(host: host, port: port, loop: loop)
            let t = try initializedHandle(uv_tcp_t.self, "uv_tcp_init") { uv_tcp_init(loop.uv, $0) }
            super.init(loop: loop, handle: t)
            do {
                // libuv reports some bind errors (EADDRINUSE) only at listen, so listen before reading the port.
                try check(address.withSockaddr { uv_tcp_bind(t, $0, 0) }, "bind \(endpoint)")
                try startListening(backlog: backlog)
                var bound = sockaddr_storage()
                var length = Int32(MemoryLayout<sockaddr_storage>.size)
                try withUnsafeMutableBytes(of: &bound) { raw throws(UVError) in
                    let sa = raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)
                    try check(uv_tcp_getsockname(t, sa, &length), "uv_tcp_getsockname")
                }
                let boundPort = withUnsafeBytes(of: bound) {
                    SocketAddress(copying: $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), length: Int(length))
                        .port
                }
                self.endpoint = .tcp(host: host, port: boundPort)
            } catch {
                close()
                throw error
            }
        case .unix(let path):
            transport = .unix
            try StreamListener.clearStaleSocket(path: path, endpoint: endpoint)
            let p = try initializedHandle(uv_pipe_t.self, "uv_pipe_init") { uv_pipe_init(loop.uv, $0, 0) }
            super.init(loop: loop, handle: p)
            // Create the file with the final mode: no window in which others may connect.
            let oldMask = umask(~unixSocketMode & 0o777)
            let bound = uv_pipe_bind(p, path)
            umask(oldMask)
            if bound < 0 {
                close()
                throw UVError(code: bound, operation: "bind \(endpoint)")
            }
            ownedSocketPath = path
            chmod(path, unixSocketMode)
            do {
                try startListening(backlog: backlog)
            } catch {
                close()
                throw error
            }
        }
    }

    private func startListening(backlog: Int32) throws(UVError) {
        let rc = uv_listen(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self), backlog) {
            server, status in
            LoopHandle.owner(server, as: StreamListener.self).didReceiveConnection(status)
        }
        try check(rc, "listen \(endpoint)")
    }

    private func didReceiveConnection(_ status: Int32) {
        guard status >= 0 else {
            onAcceptError?(UVError(code: status, operation: "accept on \(endpoint)"))
            return
        }
        do {
            let server = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
            let conn = try StreamConnection.accept(from: server, loop: loop, transport: transport)
            onConnection?(conn)
        } catch {
            onAcceptError?(error)
        }
    }

    /// Removes a socket file nobody listens on; refuses a live one or a non-socket file.
    static func clearStaleSocket(path: String, endpoint: Endpoint) throws(UVError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }  // nothing there
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw UVError(code: UV_EEXIST.rawValue, operation: "listen \(endpoint): path exists and is not a socket")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw UVError(code: -errno, operation: "socket(AF_UNIX)") }
        defer { Glibc.close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw UVError(
                code: UVError.addressInUse, operation: "listen \(endpoint): another process is listening there")
        }
        // ECONNREFUSED: a file left by a dead process. Remove it so bind can succeed.
        unlink(path)
    }

    override func willClose() { onConnection = nil }

    override func didClose() {
        if let path = ownedSocketPath { unlink(path) }
        ownedSocketPath = nil
    }
}
