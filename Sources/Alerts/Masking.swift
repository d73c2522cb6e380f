// Masking: how each kind of match is shown — enough to recognise it, never enough to use it.

enum Masking {
    /// Excerpts longer than this are cut (a 1 MiB digit run must not become a 1 MiB excerpt).
    static let maxExcerpt = 64

    /// `password` → `p*******`.
    static func keyword(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.allSatisfy({ $0 < 0x80 }), let first = bytes.first {
            var out = [first]
            out.append(contentsOf: repeatElement(UInt8(ascii: "*"), count: min(bytes.count - 1, maxExcerpt)))
            return String(decoding: out, as: UTF8.self)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let first = text.unicodeScalars.first else { return "" }
        let rest = text.unicodeScalars.count - 1
        return String(first) + String(repeating: "*", count: min(rest, maxExcerpt))
    }

    /// `john.doe@example.com` → `j***@example.com` (the domain stays: it is not personal).
    static func email(local: UnsafeRawBufferPointer, domain: UnsafeRawBufferPointer) -> String {
        let first = local.first.map { String(UnicodeScalar($0)) } ?? ""
        var d = String(decoding: domain, as: UTF8.self)
        if d.utf8.count > maxExcerpt { d = "…" + String(d.suffix(maxExcerpt - 1)) }
        return first + "***@" + d
    }

    /// `1234 5678 9012 3456` → `**** **** **** 3456`: every digit but the last four starred,
    /// separators kept; a run longer than the excerpt limit keeps only its tail.
    static func card(_ bytes: UnsafeRawBufferPointer, digits: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, maxExcerpt))
        var seen = 0
        let keepFrom = digits - 4
        let start = bytes.count > maxExcerpt ? bytes.count - maxExcerpt + 1 : 0
        if start > 0 {
            for b in bytes[..<start] where b >= 0x30 && b <= 0x39 { seen += 1 }
            out.append(contentsOf: "…".utf8)
        }
        for b in bytes[start...] {
            if b >= 0x30 && b <= 0x39 {
                out.append(seen >= keepFrom ? b : UInt8(ascii: "*"))
                seen += 1
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
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
