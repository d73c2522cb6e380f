// BlockingClient: a plain blocking TCP client for tests that play a (possibly misbehaving) peer
// from a background thread while the test's loop serves.

import Foundation
import Glibc

/// A blocking TCP connection to 127.0.0.1 with a receive timeout.
public final class BlockingClient: @unchecked Sendable {
    public let fd: Int32

    public init(port: UInt16, receiveTimeoutSeconds: Int = 10) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads until `done` holds for what arrived, the peer closes, or the timeout passes.
    public func receive(until done: (String) -> Bool = { _ in false }) -> (text: String, closed: Bool) {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return (String(decoding: data, as: UTF8.self), n == 0) }
            data.append(contentsOf: chunk[0..<n])
            let text = String(decoding: data, as: UTF8.self)
            if done(text) { return (text, false) }
        }
    }

    /// Reads until `count` complete responses (by Content-Length) have arrived.
    public func receiveResponses(_ count: Int) -> (responses: [String], closed: Bool) {
        var responses: [String] = []
        let (text, closed) = receive { BlockingClient.split($0).count >= count }
        responses = BlockingClient.split(text)
        return (responses, closed)
    }

    /// Splits a byte stream of HTTP responses (each with Content-Length) into whole responses.
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var rest = Array(text.utf8)[...]
        let separator = Array("\r\n\r\n".utf8)
        while let headEnd = rest.indices.first(where: { rest[$0...].starts(with: separator) }) {
            let head = String(decoding: rest[..<headEnd], as: UTF8.self)
            var length = 0
            for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
            let end = headEnd + 4 + length
            guard end <= rest.endIndex else { break }
            out.append(String(decoding: rest[..<end], as: UTF8.self))
            rest = rest[end...]
        }
        return out
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
    public func close() { _ = Glibc.close(fd) }
}

/// Runs `body` on a new thread; `isDone` turns true when it has returned.
public final class BackgroundJob<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T?

    public init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            let v = body()
            lock.lock()
            value = v
            lock.unlock()
        }
    }

    public var isDone: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value != nil
    }

    /// The result; only after `isDone`.
    public var result: T {
        lock.lock()
        defer { lock.unlock() }
        return value!
    }
}
