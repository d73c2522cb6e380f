// RawPeer: a hand-driven connection that writes arbitrary bytes and records what comes back.

import MeshLoop
import MeshWire
import Testing

/// Speaks the wire protocol by hand (or not at all), to test what a server does with any input.
final class RawPeer {
    let stream: StreamConnection
    var decoder = FrameDecoder(expectPreface: true, maxBodyLength: HelloSettings.hardMaxFrame)
    var connected = false
    var connectError: UVError?
    var ready = false
    var closed = false
    var frames: [Frame] = []
    var received: [UInt8] = []
    var decodeError: WireError?

    /// With `tls`, the peer speaks TLS first (and whatever it is told inside it).
    init(loop: EventLoop, endpoint: Endpoint, tls: (any StreamSecurity)? = nil) {
        var selfRef: RawPeer?
        stream = try! StreamConnection.connect(loop: loop, to: endpoint) { result in
            switch result {
            case .success: selfRef?.connected = true
            case .failure(let e): selfRef?.connectError = e
            }
        }
        selfRef = self
        if let tls { stream.secure(with: tls) }
        stream.onRead = { [unowned self] bytes in
            self.received.append(contentsOf: bytes)
            self.decoder.feed(bytes)
            do {
                while let event = try self.decoder.next() {
                    switch event {
                    case .frame(let f):
                        if f.type == .helloAck { self.ready = true } else { self.frames.append(f) }
                    default: break
                    }
                }
            } catch {
                self.decodeError = error as? WireError
            }
        }
        stream.onClose { [unowned self] in self.closed = true }
        stream.startReading()
    }

    func handshake(maxFrame: UInt32 = HelloSettings.hardMaxFrame) {
        var hello = HelloSettings()
        hello.maxFrame = maxFrame
        hello.peer = "raw-peer"
        stream.write(Preface().bytes + Frame(type: .hello, metadata: hello.metadata).bytes)
    }

    func send(_ frame: Frame) { stream.write(frame.bytes) }
    func send(bytes: [UInt8]) { stream.write(bytes) }
    func close() { stream.close() }

    /// The reason text of a GOAWAY the peer sent, if any.
    var goawayReason: String? {
        frames.first { $0.type == .goaway }.flatMap { try? ErrorBody(parsing: $0.payload).message }
    }
}
