// JWTHeader: decodes a JWT header segment and checks it is one JSON object with a string `alg` —
// bounded code: no recursion (the nesting limit of 16 is a bit stack), memory only for the header.

/// What detectors-v2 §8.2 asks of a header: base64url without padding, strict UTF-8, exactly one
/// RFC 8259 JSON text whose top-level value is an object nested at most 16 deep, with a member named
/// `alg` (after unescaping) whose value is a string.
enum JWTHeader {
    static let maxDepth = 16

    /// Decodes `segment` and parses it: for a JWT header, its masked description (`alg=HS256
    /// typ=JWT`, built while the decoded bytes are at hand), else nil.
    static func parse(base64url segment: UnsafeBufferPointer<UInt8>) -> String? {
        let count = segment.count * 6 / 8
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(count, 1)) { out in
            var acc: UInt32 = 0, bits = 0, k = 0
            for c in segment {
                acc = acc << 6 | UInt32(JWTHeader.sextet(c))
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    if k < count { out[k] = UInt8(truncatingIfNeeded: acc >> UInt32(bits)) }
                    k += 1
                }
            }
            let bytes = UnsafeBufferPointer(rebasing: out[..<count])
            guard JWTHeader.isValidUTF8(bytes) else { return nil }
            var parser = Parser(p: bytes)
            guard parser.object(), let alg = parser.alg else { return nil }
            return Masking.jwt(
                alg: UnsafeBufferPointer(rebasing: bytes[alg]),
                typ: parser.typ.map { UnsafeBufferPointer(rebasing: bytes[$0]) })
        }
    }

    /// A base64url character's value (the caller passes only ALNUM, `-` and `_`).
    @inline(__always)
    static func sextet(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x41...0x5A: c - 0x41
        case 0x61...0x7A: c - 0x61 + 26
        case 0x30...0x39: c - 0x30 + 52
        case 0x2D: 62
        default: 63
        }
    }

    /// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence.
    static func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = b.count
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            k < n && b[k] >= lo && b[k] <= hi
        }
        while i < n {
            let c = b[i]
            switch c {
            case 0x00...0x7F: i += 1
            case 0xC2...0xDF:
                guard cont(i + 1) else { return false }
                i += 2
            case 0xE0...0xEF:
                let lo: UInt8 = c == 0xE0 ? 0xA0 : 0x80, hi: UInt8 = c == 0xED ? 0x9F : 0xBF
                guard cont(i + 1, lo, hi), cont(i + 2) else { return false }
                i += 3
            case 0xF0...0xF4:
                let lo: UInt8 = c == 0xF0 ? 0x90 : 0x80, hi: UInt8 = c == 0xF4 ? 0x8F : 0xBF
                guard cont(i + 1, lo, hi), cont(i + 2), cont(i + 3) else { return false }
                i += 4
            default: return false
            }
        }
        return true
    }

    /// An iterative RFC 8259 parser over the decoded bytes.
    struct Parser {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0
        /// The raw contents (escapes not decoded) of the first string-valued `alg` and `typ`.
        var alg: Range<Int>?
        var typ: Range<Int>?

        init(p: UnsafeBufferPointer<UInt8>) { self.p = p }

        @inline(__always) var atEnd: Bool { i >= p.count }
        @inline(__always) var byte: UInt8 { p[i] }

        mutating func whitespace() {
            while i < p.count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0A || p[i] == 0x0D { i += 1 }
        }

        /// The whole text: whitespace, one object, whitespace, end.
        mutating func object() -> Bool {
            whitespace()
            guard !atEnd, byte == 0x7B else { return false }
            i += 1
            // Bit d of `arrays`: the container at depth d + 1 is an array.
            var depth = 1
            var arrays: UInt32 = 0
            // Where we are: `open` right after `{` or `[`, `member` after `,` in an object,
            // `value` where a value must follow, `after` after a value.
            enum State { case open, member, value, after }
            var state = State.open
            var name = Name.other  // the member whose value comes next, at depth 1
            while true {
                whitespace()
                if depth == 0 { return atEnd }
                guard !atEnd else { return false }
                let inArray = arrays & (1 << UInt32(depth - 1)) != 0
                switch state {
                case .open, .member:
                    if state == .open && byte == (inArray ? 0x5D : 0x7D) {
                        i += 1
                        depth -= 1
                        state = .after
                    } else if inArray {
                        state = .value
                        continue
                    } else {
                        guard byte == 0x22 else { return false }
                        guard let n = string() else { return false }
                        name = depth == 1 ? n : .other
                        whitespace()
                        guard !atEnd, byte == 0x3A else { return false }
                        i += 1
                        state = .value
                        continue
                    }
                case .value:
                    let b = byte
                    if b == 0x7B || b == 0x5B {
                        guard depth < JWTHeader.maxDepth else { return false }
                        if b == 0x5B { arrays |= 1 << UInt32(depth) } else { arrays &= ~(1 << UInt32(depth)) }
                        depth += 1
                        i += 1
                        state = .open
                        continue
                    }
                    if b == 0x22 {
                        let capture = depth == 1 && name != .other
                        let start = i + 1
                        guard string() != nil else { return false }
                        if capture {
                            let raw = start..<i - 1
                            if name == .alg && alg == nil { alg = raw }
                            if name == .typ && typ == nil { typ = raw }
                        }
                    } else if b == 0x2D || b &- 0x30 < 10 {
                        guard number() else { return false }
                    } else if !literal("true") && !literal("false") && !literal("null") {
                        return false
                    }
                    name = .other
                    state = .after
                    continue
                case .after:
                    break
                }
                // After a value or a closed container.
                if depth == 0 {
                    whitespace()
                    return atEnd
                }
                whitespace()
                guard !atEnd else { return false }
                let inner = arrays & (1 << UInt32(depth - 1)) != 0
                if byte == 0x2C {
                    i += 1
                    state = inner ? .value : .member
                } else if byte == (inner ? 0x5D : 0x7D) {
                    i += 1
                    depth -= 1
                    state = .after
                } else {
                    return false
                }
            }
        }

        enum Name { case alg, typ, other }

        /// A string at `i` (which is `"`); returns which of the names of interest it spells after
        /// unescaping, or nil if it is not a valid JSON string.
        mutating func string() -> Name? {
            i += 1
            // Compared scalar by scalar with "alg" and "typ" as the escapes are decoded.
            var alg = true, typ = true
            var length = 0
            func see(_ v: UInt32) {
                let a: UInt32 = length == 0 ? 0x61 : length == 1 ? 0x6C : 0x67  // a l g
                let t: UInt32 = length == 0 ? 0x74 : length == 1 ? 0x79 : 0x70  // t y p
                if length >= 3 || v != a { alg = false }
                if length >= 3 || v != t { typ = false }
                length += 1
            }
            while true {
                guard !atEnd else { return nil }
                let b = byte
                if b == 0x22 {
                    i += 1
                    break
                }
                if b < 0x20 { return nil }
                if b == 0x5C {
                    guard i + 1 < p.count else { return nil }
                    let e = p[i + 1]
                    switch e {
                    case 0x22, 0x5C, 0x2F: see(UInt32(e))
                    case 0x62, 0x66, 0x6E, 0x72, 0x74: see(0)  // \b \f \n \r \t: never in a name we want
                    case 0x75:
                        guard i + 5 < p.count else { return nil }
                        var v: UInt32 = 0
                        for k in 2...5 {
                            guard let h = JWTHeader.hex(p[i + k]) else { return nil }
                            v = v << 4 | h
                        }
                        see(v)
                        i += 4
                    default: return nil
                    }
                    i += 2
                    continue
                }
                // Bytes ≥ 0x80 were validated as UTF-8 already; a non-ASCII scalar is in neither name.
                if b & 0xC0 != 0x80 { see(b < 0x80 ? UInt32(b) : 0x110000) }
                i += 1
            }
            if length == 3 && alg { return .alg }
            if length == 3 && typ { return .typ }
            return .other
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, any size.
        mutating func number() -> Bool {
            if byte == 0x2D { i += 1 }
            guard !atEnd, byte &- 0x30 < 10 else { return false }
            if byte == 0x30 { i += 1 } else { digits() }
            if !atEnd && byte == 0x2E {
                i += 1
                guard !atEnd, byte &- 0x30 < 10 else { return false }
                digits()
            }
            if !atEnd && (byte == 0x65 || byte == 0x45) {
                i += 1
                if !atEnd && (byte == 0x2B || byte == 0x2D) { i += 1 }
                guard !atEnd, byte &- 0x30 < 10 else { return false }
                digits()
            }
            return true
        }

        mutating func digits() { while !atEnd && byte &- 0x30 < 10 { i += 1 } }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard i + count <= p.count else { return false }
            for k in 0..<count where p[i + k] != word.utf8Start[k] { return false }
            i += count
            return true
        }
    }

    static func hex(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: UInt32(c - 0x30)
        case 0x41...0x46: UInt32(c - 0x41 + 10)
        case 0x61...0x66: UInt32(c - 0x61 + 10)
        default: nil
        }
    }
}
