// Metadata: the optional key/value block at the start of a frame body.

/// Ordered key/value pairs carried in front of a frame's payload (`HAS_METADATA`).
///
/// Keys are 1–255 bytes of `[a-z0-9-_.]`; values are bytes (usually UTF-8 text). The whole encoded
/// block is at most `Metadata.maxEncodedSize` (8 KiB, gRPC's suggested header limit).
///
/// Layout: `u16 entriesLength`, then per entry `u8 keyLength, key, u16 valueLength, value`.
public struct Metadata: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    public static let maxEncodedSize = 8 * 1024

    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: [UInt8]
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (k, v) in elements { self[k] = v }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    /// The value of `key` as UTF-8 text; setting replaces an existing entry or appends one.
    public subscript(key: String) -> String? {
        get { bytes(forKey: key).map { String(decoding: $0, as: UTF8.self) } }
        set { setBytes(newValue.map { Array($0.utf8) }, forKey: key) }
    }

    public func bytes(forKey key: String) -> [UInt8]? {
        entries.first(where: { $0.key == key })?.value
    }

    public mutating func setBytes(_ value: [UInt8]?, forKey key: String) {
        if let i = entries.firstIndex(where: { $0.key == key }) {
            if let value { entries[i].value = value } else { entries.remove(at: i) }
        } else if let value {
            entries.append(Entry(key: key, value: value))
        }
    }

    /// Whether `key` may appear on the wire.
    public static func isValidKey(_ key: String) -> Bool {
        let utf8 = key.utf8
        guard !utf8.isEmpty, utf8.count <= 255 else { return false }
        return utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }

    /// Bytes the block takes on the wire, including its 2-byte length.
    public var encodedSize: Int {
        entries.reduce(2) { $0 + 1 + $1.key.utf8.count + 2 + $1.value.count }
    }

    /// Checks keys and sizes; the sender calls this before writing so that errors stay local.
    public func validate() throws(WireError) {
        for e in entries where !Metadata.isValidKey(e.key) {
            throw .badMetadata("invalid key \"\(e.key)\" (want 1-255 bytes of [a-z0-9-_.])")
        }
        let size = encodedSize
        if size > Metadata.maxEncodedSize {
            throw .badMetadata("block of \(size) bytes exceeds \(Metadata.maxEncodedSize)")
        }
    }

    /// Appends the encoded block; call `validate()` first.
    public func write(into buffer: inout [UInt8]) {
        buffer.appendBigEndian(UInt16(encodedSize - 2))
        for e in entries {
            buffer.append(UInt8(e.key.utf8.count))
            buffer.append(contentsOf: e.key.utf8)
            buffer.appendBigEndian(UInt16(e.value.count))
            buffer.append(contentsOf: e.value)
        }
    }

    /// Parses a block at the start of `body`.
    ///
    /// - Returns: the metadata and the number of bytes it took.
    /// - Throws: `WireError.badMetadata` naming the first problem.
    public static func parse(_ body: UnsafeRawBufferPointer) throws(WireError) -> (Metadata, Int) {
        guard body.count >= 2 else { throw .badMetadata("block shorter than its 2-byte length") }
        let total = Int(body.loadBigEndianUInt16(at: 0))
        guard total + 2 <= Metadata.maxEncodedSize else {
            throw .badMetadata("block of \(total + 2) bytes exceeds \(Metadata.maxEncodedSize)")
        }
        guard total + 2 <= body.count else {
            throw .badMetadata("block length \(total) runs past the frame body (\(body.count - 2) bytes)")
        }
        var md = Metadata()
        var i = 2
        let end = 2 + total
        while i < end {
            let keyLength = Int(body[i])
            i += 1
            guard keyLength > 0, i + keyLength + 2 <= end else {
                throw .badMetadata("truncated entry at offset \(i - 1)")
            }
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: body[i..<i + keyLength]), as: UTF8.self)
            guard isValidKey(key) else { throw .badMetadata("invalid key at offset \(i)") }
            i += keyLength
            let valueLength = Int(body.loadBigEndianUInt16(at: i))
            i += 2
            guard i + valueLength <= end else { throw .badMetadata("value of \"\(key)\" runs past the block") }
            md.entries.append(Entry(key: key, value: Array(body[i..<i + valueLength])))
            i += valueLength
        }
        return (md, end)
    }
}

extension UnsafeRawBufferPointer {
    @inlinable
    func loadBigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inlinable
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8
            | UInt32(self[offset + 3])
    }
}
