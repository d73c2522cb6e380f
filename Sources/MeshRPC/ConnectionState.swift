// ConnectionState: the protocol rules of one connection as a value — decoder events in, actions out.

import MeshWire

/// What one side of a connection does with each decoded event. Pure: no sockets, no timers, so
/// every rule of proto/PROTOCOL.md about ordering and validity is tested without I/O.
struct ConnectionState {
    enum Role { case client, server }
    enum Phase: Equatable { case awaitingPreface, awaitingHello, open }

    enum Action: Equatable {
        case none
        /// The handshake finished; apply the peer's settings (and, as a server, send our preface + HELLO_ACK).
        case ready(HelloSettings, sendAck: Bool)
        /// A call-level frame for the owner: REQUEST/CANCEL at a server, RESPONSE/ERROR at a client.
        case deliver(Frame)
        case sendPong(UInt32)
        case pongReceived(UInt32)
        case peerGoaway(lastID: UInt32, reason: String)
        /// Reject one call on the wire with an ERROR frame; the connection stays up.
        case answerError(requestID: UInt32, methodID: UInt32, StatusCode, String)
        /// Fail one of our own calls locally (a response we cannot accept).
        case failCall(requestID: UInt32, StatusCode, String)
        /// The peer broke the protocol: send GOAWAY with this reason and close.
        case protocolError(String)
    }

    let role: Role
    private(set) var phase: Phase = .awaitingPreface
    private(set) var remote: HelloSettings?

    init(role: Role) { self.role = role }

    mutating func receive(_ event: FrameDecoder.Event) -> Action {
        switch event {
        case .preface:
            guard phase == .awaitingPreface else { return .protocolError("second connection preface") }
            phase = .awaitingHello
            return .none
        case .frame(let frame):
            return receive(frame)
        case .oversized(let header):
            guard phase == .open else { return .protocolError("oversized \(header.type) frame during the handshake") }
            let what = "\(header.type) body of \(header.bodyLength) bytes exceeds the limit"
            switch (role, header.type) {
            case (.server, .request):
                return .answerError(requestID: header.requestID, methodID: header.methodID, .resourceExhausted, what)
            case (.client, .response), (.client, .error):
                return .failCall(requestID: header.requestID, .resourceExhausted, what)
            default:
                return .protocolError(what)
            }
        case .unknownType(let raw, let requestID, let methodID):
            guard phase == .open else {
                return .protocolError("unknown frame type 0x\(String(raw, radix: 16)) during the handshake")
            }
            guard requestID != 0 else { return .none }  // connection-level extension we do not know: ignore
            return .answerError(
                requestID: requestID, methodID: methodID, .unimplemented,
                "unknown frame type 0x\(String(raw, radix: 16))")
        case .malformed(let header, let error):
            guard phase == .open else { return .protocolError("\(error) in \(header.type) during the handshake") }
            switch (role, header.type) {
            case (.server, .request):
                return .answerError(
                    requestID: header.requestID, methodID: header.methodID, .invalidArgument, "\(error)")
            case (.client, .response), (.client, .error):
                return .failCall(requestID: header.requestID, .internal, "\(error)")
            default:
                return .protocolError("\(error) in \(header.type)")
            }
        }
    }

    private mutating func receive(_ frame: Frame) -> Action {
        switch phase {
        case .awaitingPreface:
            return .protocolError("frame before the connection preface")
        case .awaitingHello:
            let expected: FrameType = role == .server ? .hello : .helloAck
            guard frame.type == expected else { return .protocolError("expected \(expected), got \(frame.type)") }
            do {
                let settings = try HelloSettings(metadata: frame.metadata)
                remote = settings
                phase = .open
                return .ready(settings, sendAck: role == .server)
            } catch {
                return .protocolError("\(error)")
            }
        case .open:
            break
        }
        switch (frame.type, role) {
        case (.hello, _), (.helloAck, _):
            return .protocolError("unexpected \(frame.type) after the handshake")
        case (.ping, _):
            return .sendPong(frame.aux)
        case (.pong, _):
            return .pongReceived(frame.aux)
        case (.goaway, _):
            let reason = (try? ErrorBody(parsing: frame.payload))?.message ?? ""
            return .peerGoaway(lastID: frame.aux, reason: reason)
        case (.request, .server):
            guard frame.requestID & 1 == 1 else {
                return .protocolError("request id \(frame.requestID) is not odd (client ids are odd)")
            }
            return .deliver(frame)
        case (.cancel, .server):
            return .deliver(frame)
        case (.response, .client), (.error, .client):
            return .deliver(frame)
        case (.request, .client):
            return .answerError(
                requestID: frame.requestID, methodID: frame.methodID, .unimplemented, "this peer serves no calls")
        case (.cancel, .client):
            return .none
        case (.response, .server), (.error, .server):
            return .protocolError("server received \(frame.type) for request \(frame.requestID)")
        }
    }
}
