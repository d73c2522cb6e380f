// Frame: one decoded frame (header fields, metadata, payload) and its encoder.

/// A whole frame: what the decoder yields and what `encode(into:)` writes.
public struct Frame: Sendable, Hashable {
    public var type: FrameType
    public var flags: FrameFlags
    public var requestID: UInt32
    public var methodID: UInt32
    public var aux: UInt32
    /// Present on the wire only when non-empty (`HAS_METADATA` is set by the encoder).
    public var metadata: Metadata
    public var payload: [UInt8]

    public init(
        type: FrameType, flags: FrameFlags = [], requestID: UInt32 = 0, methodID: UInt32 = 0, aux: UInt32 = 0,
        metadata: Metadata = Metadata(), payload: [UInt8] = []
    ) {
        self.type = type
        self.flags = flags.subtracting(.hasMetadata)
        self.requestID = requestID
        self.methodID = methodID
        self.aux = aux
        self.metadata = metadata
        self.payload = payload
    }

    /// The header this frame is written with.
    public var header: FrameHeader {
        var flags = self.flags
        var body = payload.count
        if !metadata.isEmpty {
            flags.insert(.hasMetadata)
            body += metadata.encodedSize
        }
        return FrameHeader(
            type: type, flags: flags, requestID: requestID, methodID: methodID, aux: aux,
            bodyLength: UInt32(truncatingIfNeeded: body))
    }

    /// Bytes of header + body.
    public var encodedSize: Int { FrameHeader.size + Int(header.bodyLength) }

    /// Appends the frame's bytes to `buffer`. Metadata must have been validated.
    public func encode(into buffer: inout [UInt8]) {
        header.write(into: &buffer)
        if !metadata.isEmpty { metadata.write(into: &buffer) }
        buffer.append(contentsOf: payload)
    }

    /// The frame's bytes.
    public var bytes: [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(encodedSize)
        encode(into: &b)
        return b
    }
}

/// The body of ERROR and GOAWAY frames: a short human message, then optional detail bytes.
///
/// Layout: `u16 messageLength`, UTF-8 message (at most 1 KiB), details to the end of the body.
public struct ErrorBody: Sendable, Hashable {
    public static let maxMessageBytes = 1024

    public var message: String
    public var details: [UInt8]

    public init(message: String, details: [UInt8] = []) {
        self.message = message
        self.details = details
    }

    public var bytes: [UInt8] {
        let text = Array(ErrorBody.truncated(message).utf8)
        var b: [UInt8] = []
        b.reserveCapacity(2 + text.count + details.count)
        b.appendBigEndian(UInt16(text.count))
        b.append(contentsOf: text)
        b.append(contentsOf: details)
        return b
    }

    public init(parsing body: [UInt8]) throws(WireError) {
        guard body.count >= 2 else { throw .badBody("error body shorter than its 2-byte length") }
        let n = Int(body[0]) << 8 | Int(body[1])
        guard 2 + n <= body.count else { throw .badBody("error message length \(n) runs past the body") }
        message = String(decoding: body[2..<2 + n], as: UTF8.self)
        details = Array(body[(2 + n)...])
    }

    /// `text` cut to at most `maxMessageBytes` UTF-8 bytes, on a character boundary.
    static func truncated(_ text: String) -> String {
        guard text.utf8.count > maxMessageBytes else { return text }
        var out = ""
        for ch in text {
            if out.utf8.count + ch.utf8.count > maxMessageBytes - 3 { break }
            out.append(ch)
        }
        return out + "..."
    }
}

/// The settings each side announces in HELLO / HELLO_ACK (a metadata block of decimal text).
public struct HelloSettings: Sendable, Hashable {
    /// The default largest frame body a side accepts: 4 MiB, gRPC's receive default.
    public static let defaultMaxFrame: UInt32 = 4 * 1024 * 1024
    /// No side may accept or announce a larger body: 16 MiB.
    public static let hardMaxFrame: UInt32 = 16 * 1024 * 1024

    /// The largest frame body this side accepts.
    public var maxFrame: UInt32 = HelloSettings.defaultMaxFrame
    /// How many calls this side serves at once on the connection (0 = no limit).
    public var maxConcurrent: UInt32 = 0
    /// How long this side lets the connection idle before it pings (0 = never).
    public var pingIntervalMs: UInt32 = 0
    /// Who is speaking: a service name (`alert-service`, `rpc-probe`).
    public var peer: String = ""
    /// The speaker's build (a version or git revision).
    public var build: String = ""
    /// Optional features this side understands; unknown ones are ignored.
    public var features: [String] = []

    public init() {}

    public var metadata: Metadata {
        var md = Metadata()
        md["max-frame"] = String(maxFrame)
        md["max-concurrent"] = String(maxConcurrent)
        md["ping-interval-ms"] = String(pingIntervalMs)
        if !peer.isEmpty { md["peer"] = peer }
        if !build.isEmpty { md["build"] = build }
        if !features.isEmpty { md["features"] = features.joined(separator: ",") }
        return md
    }

    /// Reads settings from a HELLO's metadata; absent keys keep their defaults, unknown keys are ignored.
    public init(metadata md: Metadata) throws(WireError) {
        func number(_ key: String) throws(WireError) -> UInt32? {
            guard let text = md[key] else { return nil }
            guard let v = UInt32(text) else { throw .badBody("HELLO setting \(key)=\"\(text)\" is not a number") }
            return v
        }
        if let v = try number("max-frame") {
            guard v >= 1024 else { throw .badBody("HELLO setting max-frame=\(v) is below 1024") }
            maxFrame = Swift.min(v, HelloSettings.hardMaxFrame)
        }
        if let v = try number("max-concurrent") { maxConcurrent = v }
        if let v = try number("ping-interval-ms") { pingIntervalMs = v }
        peer = md["peer"] ?? ""
        build = md["build"] ?? ""
        features = (md["features"] ?? "").split(separator: ",").map(String.init)
    }
}
