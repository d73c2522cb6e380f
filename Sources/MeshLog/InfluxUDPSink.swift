// InfluxUDPSink: InfluxDB line protocol over UDP — a connected socket, datagrams of whole lines.

import Glibc
import MeshTime

/// The UDP side of log shipping, touched only by the writer thread.
///
/// Points are packed into datagrams of at most `datagramBytes`, never splitting a line, and sent
/// on a non-blocking socket: InfluxDB being away changes nothing but a counter.
final class InfluxUDPSink {
    let host: String
    let port: UInt16
    private var udp: Int32 = -1
    private var batcher: DatagramBatcher
    private var nextResolveNs: UInt64 = 0
    /// Counters since the last `takeStats`.
    private var datagramsSent: UInt64 = 0
    private var bytesSent: UInt64 = 0
    private var linesSent: UInt64 = 0
    private var errors: UInt64 = 0
    private var oversized: UInt64 = 0

    init(host: String, port: UInt16, datagramBytes: Int) {
        self.host = host
        self.port = port
        batcher = DatagramBatcher(maxBytes: datagramBytes)
        connect()
    }

    /// Adds one point (a line with its newline); sends the datagrams it fills.
    func add(_ point: [UInt8]) {
        let before = batcher.droppedOversized
        for datagram in batcher.add(point) { send(datagram) }
        oversized += batcher.droppedOversized - before
    }

    /// Sends what is batched.
    func flush() {
        if let datagram = batcher.flush() { send(datagram) }
    }

    /// Resolves the InfluxDB host (an IPv4 literal or a name, e.g. a compose service) and connects
    /// the UDP socket. A name that does not resolve yet (influxd's container not up) is tried again
    /// every 5 s from the writer thread; lines meanwhile go to the file only, counted as UDP errors.
    ///
    /// The socket is connected so it hears ICMP "port unreachable": sends to a stopped influxd then
    /// fail with ECONNREFUSED and are counted, instead of vanishing unnoticed.
    private func connect() {
        guard udp < 0 else { return }
        let now = WallClock.monotonicNs()
        guard now >= nextResolveNs else { return }
        nextResolveNs = now + 5_000_000_000
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        if inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &target.sin_addr) != 1 {
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result, let sa = first.pointee.ai_addr
            else {
                return
            }
            sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { target.sin_addr = $0.pointee.sin_addr }
            freeaddrinfo(result)
        }
        let s = socket(
            AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return }
        let rc = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            Glibc.close(s)
            return
        }
        udp = s
    }

    func send(_ datagram: [UInt8]) {
        connect()
        guard udp >= 0 else {
            errors += 1
            return
        }
        let lines = datagram.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        let n = datagram.withUnsafeBytes { raw in Glibc.send(udp, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
        if n == datagram.count {
            datagramsSent += 1
            bytesSent += UInt64(n)
            linesSent += UInt64(lines)
        } else {
            errors += 1  // ECONNREFUSED after an ICMP, EAGAIN when the socket buffer is full
        }
    }

    /// The counters since the last call, into `stats`.
    func takeStats(into stats: inout LogShipper.Stats) {
        stats.datagramsSent += datagramsSent
        stats.udpBytesSent += bytesSent
        stats.linesSent += linesSent
        stats.udpErrors += errors
        stats.oversizedDropped += oversized
        (datagramsSent, bytesSent, linesSent, errors, oversized) = (0, 0, 0, 0, 0)
    }

    func close() {
        if udp >= 0 { Glibc.close(udp) }
        udp = -1
    }
}
