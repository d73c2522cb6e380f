// FrameDecoder: turns a connection's byte stream into preface and frame events. Pure, no I/O.

/// Incremental decoder for one direction of a connection.
///
/// Feed it bytes as they arrive, then call `next()` until it returns nil. It never consumes a
/// partial frame, and it checks every length against the limits **before** buffering a body:
/// a body above `maxBodyLength` (but within the hard cap) is skipped as it streams in and reported
/// as `.oversized`, so the connection can answer RESOURCE_EXHAUSTED and carry on.
///
/// ```swift
/// var decoder = FrameDecoder(expectPreface: true)
/// decoder.feed(bytes)
/// while let event = try decoder.next() { handle(event) }
/// ```
public struct FrameDecoder: Sendable {
    public enum Event: Sendable, Hashable {
        /// The peer's connection preface (first event when `expectPreface`).
        case preface(Preface)
        case frame(Frame)
        /// A frame whose body exceeded `maxBodyLength`; its body is being discarded.
        case oversized(FrameHeader)
        /// A frame of a type this version does not know; its body was skipped.
        case unknownType(rawType: UInt8, requestID: UInt32, methodID: UInt32)
        /// A well-framed frame whose body does not parse; it was consumed whole.
        case malformed(FrameHeader, WireError)
    }

    private enum State: Sendable {
        case preface
        case header
        case discarding(remaining: Int)
        case failed(WireError)
    }

    /// The largest body accepted into memory; set it to the negotiated value after HELLO.
    public var maxBodyLength: UInt32
    /// Bodies above this cannot be skipped either: the stream is abandoned.
    public let hardMaxBodyLength: UInt32

    private var state: State
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init(
        expectPreface: Bool, maxBodyLength: UInt32 = HelloSettings.defaultMaxFrame,
        hardMaxBodyLength: UInt32 = HelloSettings.hardMaxFrame
    ) {
        self.state = expectPreface ? .preface : .header
        self.maxBodyLength = maxBodyLength
        self.hardMaxBodyLength = hardMaxBodyLength
    }

    /// Bytes received but not yet turned into events.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Appends received bytes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        if case .discarding(let remaining) = state, readIndex == buffer.count {
            // Skip without copying while a rejected body streams past.
            let skip = min(remaining, bytes.count)
            state = remaining == skip ? .header : .discarding(remaining: remaining - skip)
            if skip < bytes.count { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[skip...])) }
            return
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The next complete event, or nil when more bytes are needed.
    ///
    /// - Throws: a stream-level `WireError`; after one, every later call throws it again.
    public mutating func next() throws(WireError) -> Event? {
        defer { compact() }
        switch state {
        case .failed(let error):
            throw error
        case .preface:
            return try nextPreface()
        case .discarding(let remaining):
            let skip = min(remaining, bufferedByteCount)
            readIndex += skip
            if skip < remaining {
                state = .discarding(remaining: remaining - skip)
                return nil
            }
            state = .header
            return try nextFrame()
        case .header:
            return try nextFrame()
        }
    }

    private mutating func fail(_ error: WireError) -> WireError {
        state = .failed(error)
        return error
    }

    private mutating func nextPreface() throws(WireError) -> Event? {
        let available = bufferedByteCount
        let start = readIndex
        // Judge the magic as soon as 4 bytes are here, so an HTTP client gets its answer at once.
        guard available >= 4 else {
            if available > 0 && buffer[start] != Preface.magic[0] && !FrameDecoder.mightBeHTTP(buffer[start...]) {
                throw fail(.badPreface(bytes: Array(buffer[start...])))
            }
            return nil
        }
        if !buffer[start..<start + 4].elementsEqual(Preface.magic) {
            let head = buffer[start..<min(buffer.count, start + 64)]
            if FrameDecoder.mightBeHTTP(head) {
                let line = head.prefix { $0 != 0x0D && $0 != 0x0A }
                throw fail(.httpPeer(firstLine: String(decoding: line, as: UTF8.self)))
            }
            throw fail(.badPreface(bytes: Array(buffer[start..<start + 4])))
        }
        guard available >= Preface.size else { return nil }
        let preface = Preface(major: buffer[start + 4], minor: buffer[start + 5])
        readIndex += Preface.size
        guard preface.major == Preface.currentMajor else {
            throw fail(.unsupportedVersion(major: preface.major, minor: preface.minor))
        }
        state = .header
        return .preface(preface)
    }

    /// Whether `bytes` could be the start of an HTTP request or response (or HTTP/2's preface).
    static func mightBeHTTP(_ bytes: ArraySlice<UInt8>) -> Bool {
        let words = ["GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "PRI ", "HTTP", "CONN"]
        return words.contains { word in
            let w = Array(word.utf8)
            let n = min(w.count, bytes.count)
            return n > 0 && bytes.prefix(n).elementsEqual(w.prefix(n))
        }
    }

    private mutating func nextFrame() throws(WireError) -> Event? {
        guard bufferedByteCount >= FrameHeader.size else { return nil }
        let start = readIndex
        // Read the header in place.
        let (length, magic, rawType, rawFlags, requestID, methodID, aux) = buffer.withUnsafeBytes { raw in
            (
                raw.loadBigEndianUInt32(at: start), raw[start + 4], raw[start + 5],
                raw.loadBigEndianUInt16(at: start + 6), raw.loadBigEndianUInt32(at: start + 8),
                raw.loadBigEndianUInt32(at: start + 12), raw.loadBigEndianUInt32(at: start + 16)
            )
        }
        guard magic == FrameHeader.magicVersion else { throw fail(.badMagic(magic)) }
        guard length >= FrameHeader.sizeAfterLength else { throw fail(.frameTooShort(length: length)) }
        let bodyLength = length - FrameHeader.sizeAfterLength
        guard bodyLength <= hardMaxBodyLength else {
            throw fail(.frameTooLarge(length: length, limit: hardMaxBodyLength + FrameHeader.sizeAfterLength))
        }
        let flags = FrameFlags(rawValue: rawFlags)
        guard let type = FrameType(rawValue: rawType) else {
            skipBody(after: start, length: Int(bodyLength))
            return .unknownType(rawType: rawType, requestID: requestID, methodID: methodID)
        }
        let header = FrameHeader(
            type: type, flags: flags, requestID: requestID, methodID: methodID, aux: aux, bodyLength: bodyLength)
        if bodyLength > maxBodyLength {
            skipBody(after: start, length: Int(bodyLength))
            return .oversized(header)
        }
        guard bufferedByteCount >= FrameHeader.size + Int(bodyLength) else {
            buffer.reserveCapacity(readIndex + FrameHeader.size + Int(bodyLength))
            return nil
        }
        let bodyStart = start + FrameHeader.size
        let bodyEnd = bodyStart + Int(bodyLength)
        readIndex = bodyEnd
        var metadata = Metadata()
        var payloadStart = bodyStart
        if flags.contains(.hasMetadata) {
            let parsed = buffer.withUnsafeBytes { raw in
                Result { () throws(WireError) in
                    try Metadata.parse(UnsafeRawBufferPointer(rebasing: raw[bodyStart..<bodyEnd]))
                }
            }
            switch parsed {
            case .success(let (md, used)):
                metadata = md
                payloadStart += used
            case .failure(let error):
                return .malformed(header, error)
            }
        }
        return .frame(
            Frame(
                type: type, flags: flags, requestID: requestID, methodID: methodID, aux: aux,
                metadata: metadata, payload: Array(buffer[payloadStart..<bodyEnd])))
    }

    /// Drops the header at `start` and as much of its `length`-byte body as is buffered; the rest is
    /// skipped as it arrives.
    private mutating func skipBody(after start: Int, length: Int) {
        readIndex = start + FrameHeader.size
        let skip = min(length, bufferedByteCount)
        readIndex += skip
        state = skip == length ? .header : .discarding(remaining: length - skip)
    }

    private mutating func compact() {
        if readIndex == buffer.count {
            if readIndex > 0 {
                buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
                readIndex = 0
            }
        } else if readIndex >= 64 * 1024 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }
}
