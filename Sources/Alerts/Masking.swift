// Masking: how each kind of match is shown — enough to recognise it, never enough to use it.

enum Masking {
    /// Excerpts longer than this are cut (a 1 MiB digit run must not become a 1 MiB excerpt).
    static let maxExcerpt = 64

    // The excerpts are built straight into the string's storage (`String(unsafeUninitializedCapacity:)`):
    // one allocation at most, none for excerpts of up to 15 bytes, which Swift keeps inline — most
    // keyword and card excerpts. (Profiled: building them through arrays and concatenation cost
    // more than the scan itself on chat messages.)

    /// `password` → `p*******`.
    static func keyword(_ bytes: UnsafeRawBufferPointer) -> String {
        guard let first = bytes.first else { return "" }
        if first < 0x80 {
            let stars = min(bytes.count - 1, maxExcerpt)
            return String(unsafeUninitializedCapacity: 1 + stars) { out in
                out[0] = first
                for k in 0..<stars { out[1 + k] = UInt8(ascii: "*") }
                return 1 + stars
            }
        }
        // A non-ASCII first letter: keep its whole scalar, one star per following scalar.
        var firstLength = 1
        while firstLength < bytes.count && bytes[firstLength] & 0xC0 == 0x80 { firstLength += 1 }
        var rest = 0
        for b in bytes[firstLength...] where b & 0xC0 != 0x80 { rest += 1 }
        let stars = min(rest, maxExcerpt)
        return String(unsafeUninitializedCapacity: firstLength + stars) { out in
            for k in 0..<firstLength { out[k] = bytes[k] }
            for k in 0..<stars { out[firstLength + k] = UInt8(ascii: "*") }
            return firstLength + stars
        }
    }

    /// `john.doe@example.com` → `j***@example.com` (the domain stays: it is not personal).
    static func email(local: UnsafeRawBufferPointer, domain: UnsafeRawBufferPointer) -> String {
        // A domain longer than the excerpt limit keeps its tail after an ellipsis.
        let cut = domain.count > maxExcerpt
        let kept = cut ? UnsafeRawBufferPointer(rebasing: domain[(domain.count - maxExcerpt + 1)...]) : domain
        let ellipsis = Array("…".utf8)
        let count = (local.isEmpty ? 0 : 1) + 4 + (cut ? ellipsis.count : 0) + kept.count
        return String(unsafeUninitializedCapacity: count) { out in
            var o = 0
            if let first = local.first {
                out[o] = first
                o += 1
            }
            for b in "***@".utf8 {
                out[o] = b
                o += 1
            }
            if cut {
                for b in ellipsis {
                    out[o] = b
                    o += 1
                }
            }
            for b in kept {
                out[o] = b
                o += 1
            }
            return o
        }
    }

    /// `1234 5678 9012 3456` → `**** **** **** 3456`: every digit but the last four starred,
    /// separators kept; a run longer than the excerpt limit keeps only its tail.
    static func card(_ bytes: UnsafeRawBufferPointer, digits: Int) -> String {
        var seen = 0
        let keepFrom = digits - 4
        let start = bytes.count > maxExcerpt ? bytes.count - maxExcerpt + 1 : 0
        if start > 0 {
            for b in bytes[..<start] where b >= 0x30 && b <= 0x39 { seen += 1 }
        }
        let ellipsis = Array("…".utf8)
        let count = (start > 0 ? ellipsis.count : 0) + bytes.count - start
        return String(unsafeUninitializedCapacity: count) { out in
            var o = 0
            if start > 0 {
                for b in ellipsis {
                    out[o] = b
                    o += 1
                }
            }
            for b in bytes[start...] {
                if b >= 0x30 && b <= 0x39 {
                    out[o] = seen >= keepFrom ? b : UInt8(ascii: "*")
                    seen += 1
                } else {
                    out[o] = b
                }
                o += 1
            }
            return o
        }
    }

    /// Luhn's check over the digits of `bytes` (separators skipped).
    static func luhn(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var sum = 0
        var double = false
        for b in bytes.reversed() where b >= 0x30 && b <= 0x39 {
            var d = Int(b - 0x30)
            if double {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
            double.toggle()
        }
        return sum % 10 == 0
    }
}
