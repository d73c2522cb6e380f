// FrameHeader: the fixed 20-byte header every frame starts with, and the connection preface.

/// What a frame is for (proto/PROTOCOL.md §Frame types).
public enum FrameType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 0x01
    case helloAck = 0x02
    case request = 0x03
    case response = 0x04
    case error = 0x05
    case cancel = 0x06
    case ping = 0x07
    case pong = 0x08
    case goaway = 0x09

    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .helloAck: "HELLO_ACK"
        case .request: "REQUEST"
        case .response: "RESPONSE"
        case .error: "ERROR"
        case .cancel: "CANCEL"
        case .ping: "PING"
        case .pong: "PONG"
        case .goaway: "GOAWAY"
        }
    }
}

/// Bits of the header's flags field.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The body starts with a metadata block.
    public static let hasMetadata = FrameFlags(rawValue: 1 << 1)
    /// The caller wants no response (REQUEST only).
    public static let oneway = FrameFlags(rawValue: 1 << 3)
    /// The call may be retried safely (REQUEST only).
    public static let idempotent = FrameFlags(rawValue: 1 << 4)

    /// Every flag version 1 defines; a frame with any other bit set is a protocol error.
    public static let known: FrameFlags = [.hasMetadata, .oneway, .idempotent]
}

/// The 20-byte header in front of every frame. All integers are big-endian.
///
/// ```
/// 0  u32 length     bytes after this field: 16 + body length
/// 4  u8  magic/ver  0xA1
/// 5  u8  type       FrameType
/// 6  u16 flags      FrameFlags
/// 8  u32 requestID  0 = connection-level
/// 12 u32 methodID   service << 16 | method
/// 16 u32 aux        REQUEST: deadline budget ms; ERROR: status; PING/PONG: opaque; GOAWAY: last id
/// ```
public struct FrameHeader: Sendable, Hashable {
    /// Size of the header on the wire.
    public static let size = 20
    /// Bytes of the header counted by `length` (everything after the length field).
    public static let sizeAfterLength: UInt32 = 16
    /// The magic/version byte of wire version 1: high nibble 0xA is the magic, low nibble the version.
    public static let magicVersion: UInt8 = 0xA1

    public var type: FrameType
    public var flags: FrameFlags
    public var requestID: UInt32
    public var methodID: UInt32
    public var aux: UInt32
    /// Length of the body (metadata block + payload) that follows the header.
    public var bodyLength: UInt32

    public init(
        type: FrameType, flags: FrameFlags = [], requestID: UInt32 = 0, methodID: UInt32 = 0,
        aux: UInt32 = 0, bodyLength: UInt32 = 0
    ) {
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.methodID = methodID
        self.aux = aux
        self.bodyLength = bodyLength
    }

    /// The value of the wire's length field.
    public var lengthField: UInt32 { FrameHeader.sizeAfterLength + bodyLength }

    /// Appends the header's 20 bytes to `buffer`.
    public func write(into buffer: inout [UInt8]) {
        // Built on the stack and appended once: seven appends cost more than the rest of a frame's
        // encoding (each one a capacity check and a copy call).
        var header: (UInt64, UInt64, UInt32) = (0, 0, 0)
        withUnsafeMutableBytes(of: &header) { raw in
            raw.storeBytes(of: lengthField.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw[4] = FrameHeader.magicVersion
            raw[5] = type.rawValue
            raw.storeBytes(of: flags.rawValue.bigEndian, toByteOffset: 6, as: UInt16.self)
            raw.storeBytes(of: requestID.bigEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: methodID.bigEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: aux.bigEndian, toByteOffset: 16, as: UInt32.self)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<FrameHeader.size]))
        }
    }
}

/// Service and method numbers packed into a header's method id.
public struct MethodID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var service: UInt16
    public var method: UInt16

    public init(service: UInt16, method: UInt16) {
        self.service = service
        self.method = method
    }

    public init(rawValue: UInt32) {
        self.service = UInt16(truncatingIfNeeded: rawValue >> 16)
        self.method = UInt16(truncatingIfNeeded: rawValue)
    }

    public var rawValue: UInt32 { UInt32(service) << 16 | UInt32(method) }

    /// `#0100.0001`, the form rpc-probe and frame dumps print.
    public var description: String { "#" + hex4(service) + "." + hex4(method) }

    public static func < (a: MethodID, b: MethodID) -> Bool { a.rawValue < b.rawValue }
}

private func hex4(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 4 - s.count) + s
}

/// The 8 bytes each side sends once, first, on a new connection.
///
/// The first byte is not ASCII, so an HTTP client, a telnet typo or a TLS hello fails at byte 0.
public struct Preface: Sendable, Hashable {
    public static let magic: [UInt8] = [0x89, 0x52, 0x50, 0x4D]  // 0x89 'R' 'P' 'M'
    public static let size = 8
    /// The protocol's current major version; a peer with another major version is refused.
    public static let currentMajor: UInt8 = 1
    public static let currentMinor: UInt8 = 0

    public var major: UInt8
    public var minor: UInt8

    public init(major: UInt8 = Preface.currentMajor, minor: UInt8 = Preface.currentMinor) {
        self.major = major
        self.minor = minor
    }

    public var bytes: [UInt8] { Preface.magic + [major, minor, 0, 0] }
}

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }
}
