// WireError: every way a byte stream can fail to be alertmesh wire protocol.

/// Why the decoder gave up on a connection's byte stream, or on one frame.
///
/// Stream-level errors (everything but `badMetadata` and `badBody`) mean the stream can no longer be
/// framed: the connection answers GOAWAY with `description` as the reason and closes.
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The peer sent HTTP (or HTTP/2's preface) to an RPC endpoint.
    case httpPeer(firstLine: String)
    /// The first 4 bytes were not the preface magic.
    case badPreface(bytes: [UInt8])
    /// The peer speaks a major version this build does not.
    case unsupportedVersion(major: UInt8, minor: UInt8)
    /// A frame header's magic/version byte was wrong: the stream is out of sync or not ours.
    case badMagic(UInt8)
    /// A frame's length field is below the header's own 16 bytes.
    case frameTooShort(length: UInt32)
    /// A frame's length is above the hard cap, so it cannot even be skipped safely.
    case frameTooLarge(length: UInt32, limit: UInt32)
    /// A metadata block that does not parse (the frame itself was well framed).
    case badMetadata(String)
    /// A frame body whose layout is wrong for its type (HELLO settings, ERROR body).
    case badBody(String)

    public var description: String {
        switch self {
        case .httpPeer(let line):
            "not an alertmesh peer: got HTTP (\(line))"
        case .badPreface(let bytes) where bytes.first == 0x16 || bytes.first == 0x15:
            // A TLS record: handshake (0x16) or alert (0x15).
            "not an alertmesh peer in plaintext: got a TLS record (is one side missing --tls-cert?)"
        case .badPreface(let bytes):
            "not an alertmesh peer: bad preface " + bytes.map { hexByte($0) }.joined(separator: " ")
        case .unsupportedVersion(let major, let minor):
            "unsupported protocol version \(major).\(minor) (this side speaks \(Preface.currentMajor).x)"
        case .badMagic(let byte):
            "protocol error: bad frame magic 0x\(hexByte(byte)) (expected 0xa1)"
        case .frameTooShort(let length):
            "protocol error: frame length \(length) is below the header size 16"
        case .frameTooLarge(let length, let limit):
            "protocol error: frame length \(length) exceeds the hard limit \(limit)"
        case .badMetadata(let why):
            "malformed metadata block: \(why)"
        case .badBody(let why):
            "malformed frame body: \(why)"
        }
    }
}

func hexByte(_ b: UInt8) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}
