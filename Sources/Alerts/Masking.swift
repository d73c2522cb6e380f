// Masking: how each kind of match is shown — enough to recognise it, never enough to use it.

enum Masking {
    /// Excerpts longer than this are cut (a 1 MiB digit run must not become a 1 MiB excerpt).
    static let maxExcerpt = 64

    // The excerpts are built straight into the string's storage (`String(unsafeUninitializedCapacity:)`):
    // one allocation at most, none for excerpts of up to 15 bytes, which Swift keeps inline — most
    // keyword and card excerpts. (Profiled: building them through arrays and concatenation cost
    // more than the scan itself on chat messages.)

    static let ellipsis = Array("…".utf8)

    /// Appends bytes to a string's uninitialised storage.
    struct Writer {
        let out: UnsafeMutableBufferPointer<UInt8>
        var count = 0

        @inline(__always) mutating func put(_ b: UInt8) {
            out[count] = b
            count += 1
        }

        @inline(__always) mutating func put<S: Sequence<UInt8>>(_ bytes: S) { for b in bytes { put(b) } }

        @inline(__always) mutating func put(_ b: UInt8, times: Int) { for _ in 0..<times { put(b) } }
    }

    /// A string of at most `capacity` bytes, as `write` puts them.
    @inline(__always)
    static func excerpt(capacity: Int, _ write: (inout Writer) -> Void) -> String {
        String(unsafeUninitializedCapacity: capacity) { out in
            var w = Writer(out: out)
            write(&w)
            return w.count
        }
    }

    /// `password` → `p*******`.
    static func keyword(_ bytes: UnsafeRawBufferPointer) -> String {
        guard !bytes.isEmpty else { return "" }
        // The first scalar stays whole (a non-ASCII keyword from a rules file), one star per
        // following scalar.
        var firstLength = 1
        while firstLength < bytes.count && bytes[firstLength] & 0xC0 == 0x80 { firstLength += 1 }
        var rest = 0
        for b in bytes[firstLength...] where b & 0xC0 != 0x80 { rest += 1 }
        let stars = min(rest, maxExcerpt)
        return excerpt(capacity: firstLength + stars) { w in
            w.put(bytes[..<firstLength])
            w.put(UInt8(ascii: "*"), times: stars)
        }
    }

    /// `john.doe@example.com` → `j***@example.com` (the domain stays: it is not personal).
    static func email(local: UnsafeRawBufferPointer, domain: UnsafeRawBufferPointer) -> String {
        // A domain longer than the excerpt limit keeps its tail after an ellipsis.
        let cut = domain.count > maxExcerpt
        let kept = cut ? domain[(domain.count - maxExcerpt + 1)...] : domain[...]
        let count = (local.isEmpty ? 0 : 1) + 4 + (cut ? ellipsis.count : 0) + kept.count
        return excerpt(capacity: count) { w in
            if let first = local.first { w.put(first) }
            w.put("***@".utf8)
            if cut { w.put(ellipsis) }
            w.put(kept)
        }
    }

    /// `1234 5678 9012 3456` → `**** **** **** 3456`: every digit but the last four starred,
    /// separators kept; a run longer than the excerpt limit keeps only its tail.
    static func card(_ bytes: UnsafeRawBufferPointer, digits: Int) -> String {
        var seen = 0
        let keepFrom = digits - 4
        let start = bytes.count > maxExcerpt ? bytes.count - maxExcerpt + 1 : 0
        for b in bytes[..<start] where b >= 0x30 && b <= 0x39 { seen += 1 }
        return excerpt(capacity: (start > 0 ? ellipsis.count : 0) + bytes.count - start) { w in
            if start > 0 { w.put(ellipsis) }
            for b in bytes[start...] {
                if b >= 0x30 && b <= 0x39 {
                    w.put(seen >= keepFrom ? b : UInt8(ascii: "*"))
                    seen += 1
                } else {
                    w.put(b)
                }
            }
        }
    }

    /// Luhn's check over the digits of `bytes` (separators skipped).
    static func luhn(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Arithmetic instead of branches on the digits: a branch on "doubled past 9" mispredicts on
        // every other digit of a random number, and card-like runs are checked a lot on hostile input.
        var sum = 0
        var double = 0
        for b in bytes.reversed() where b &- 0x30 < 10 {
            let d = Int(b &- 0x30)
            // Doubled, its digits summed: 2d, or 2d - 9 from 5 up ((d + 3) >> 3 is 1 exactly there).
            sum &+= d &+ double &* (d &- 9 &* ((d &+ 3) >> 3))
            double ^= 1
        }
        return sum % 10 == 0
    }
}
