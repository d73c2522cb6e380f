// SocketAddress: a resolved IPv4/IPv6 address, and name resolution that never blocks the loop.

internal import CLibUV
import Glibc

/// A resolved internet socket address (`sockaddr_storage`).
struct SocketAddress {
    var storage = sockaddr_storage()

    /// Parses a numeric IPv4 or IPv6 host; nil for names that need resolving.
    init?(numericHost host: String, port: UInt16) {
        let ok = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            if uv_ip4_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)) == 0 {
                return true
            }
            return uv_ip6_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)) == 0
        }
        if !ok { return nil }
    }

    init(copying addr: UnsafePointer<sockaddr>, length: Int) {
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: min(length, raw.count)))
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self)) }
    }

    var port: UInt16 {
        withSockaddr { sa in
            if sa.pointee.sa_family == sa_family_t(AF_INET6) {
                return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    UInt16(bigEndian: $0.pointee.sin6_port)
                }
            }
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// Resolves synchronously (for start-up only: listeners and UDP senders, never on a hot path).
    static func resolveBlocking(host: String, port: UInt16, loop: EventLoop) throws(UVError) -> SocketAddress {
        if let a = SocketAddress(numericHost: host, port: port) { return a }
        let req = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        defer { req.deallocate() }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let rc = uv_getaddrinfo(loop.uv, req, nil, host, String(port), &hints)
        try check(rc, "getaddrinfo \(host)")
        defer { uv_freeaddrinfo(req.pointee.addrinfo) }
        guard let ai = req.pointee.addrinfo, let addr = ai.pointee.ai_addr else {
            throw UVError(code: UV_EAI_NONAME.rawValue, operation: "getaddrinfo \(host)")
        }
        return SocketAddress(copying: addr, length: Int(ai.pointee.ai_addrlen))
    }

    /// Resolves on libuv's thread pool and calls back on the loop.
    static func resolve(
        host: String, port: UInt16, loop: EventLoop, _ completion: @escaping (Result<SocketAddress, UVError>) -> Void
    ) {
        if let a = SocketAddress(numericHost: host, port: port) { return completion(.success(a)) }
        let request = Resolution(host: host, completion: completion)
        let req = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(request).toOpaque()
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let rc = uv_getaddrinfo(
            loop.uv, req,
            { req, status, res in
                let request = Unmanaged<Resolution>.fromOpaque(req!.pointee.data).takeRetainedValue()
                req!.deallocate()
                request.finish(status: status, result: res)
            }, host, String(port), &hints)
        if rc < 0 {
            Unmanaged<Resolution>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            completion(.failure(UVError(code: rc, operation: "getaddrinfo \(host)")))
        }
    }

    private final class Resolution {
        let host: String
        let completion: (Result<SocketAddress, UVError>) -> Void
        init(host: String, completion: @escaping (Result<SocketAddress, UVError>) -> Void) {
            self.host = host
            self.completion = completion
        }

        func finish(status: Int32, result: UnsafeMutablePointer<addrinfo>?) {
            defer { uv_freeaddrinfo(result) }
            guard status == 0, let ai = result, let addr = ai.pointee.ai_addr else {
                let code = status < 0 ? status : UV_EAI_NONAME.rawValue
                return completion(.failure(UVError(code: code, operation: "getaddrinfo \(host)")))
            }
            completion(.success(SocketAddress(copying: addr, length: Int(ai.pointee.ai_addrlen))))
        }
    }
}

extension SocketAddress: CustomStringConvertible {
    /// `127.0.0.1:7000`, `[::1]:7000`.
    var description: String {
        var name = [CChar](repeating: 0, count: 64)
        let host = withSockaddr { sa -> String in
            guard uv_ip_name(sa, &name, name.count) == 0 else { return "?" }
            return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let isV6 = withSockaddr { $0.pointee.sa_family == sa_family_t(AF_INET6) }
        return isV6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
