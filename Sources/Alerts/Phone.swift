// Phone: phone_detected — an international number: '+', a country code, 8–15 digits in all.

extension Scan {
    /// At a '+' followed by a digit: the phone run from there (detectors-v2 §5.1), decided on the
    /// maximal run. A run holds no '+', so runs from different '+' never overlap: linear.
    mutating func phone(plus s: Int) {
        guard p[s + 1] != 0x30, !wordBefore(s) else { return }
        var j = s + 1
        var digits = 0, groups = 1
        var bracket = false, dotted = false
        @inline(__always) func group() {
            let start = j
            while j < n && p[j] &- 0x30 < 10 { j += 1 }
            digits += j - start
        }
        @inline(__always) func isSeparator(_ k: Int) -> Bool {
            k < n && (p[k] == 0x20 || p[k] == 0x2D || p[k] == 0x2E)
        }
        group()
        // Each step is forced; more than 15 digits can never fire, so the walk stops there.
        while digits <= 15 {
            if isSeparator(j) && isDigit(j + 1) {
                if p[j] == 0x2E { dotted = true }
                j += 1
                group()
                groups += 1
                continue
            }
            guard !bracket else { break }
            // The one bracket group: an optional separator, '(', digits, ')'.
            var k = j
            let separated = isSeparator(k)
            if separated { k += 1 }
            guard k < n && p[k] == 0x28 && isDigit(k + 1) else { break }
            var close = k + 1
            while close < n && p[close] &- 0x30 < 10 { close += 1 }
            guard close < n && p[close] == 0x29 else { break }
            if separated && p[j] == 0x2E { dotted = true }
            digits += close - k - 1
            groups += 1
            bracket = true
            j = close + 1
            // A plain group may follow the ')' directly: `(0)20`.
            if isDigit(j) {
                group()
                groups += 1
            }
        }
        guard digits >= 8 && digits <= 15, !dotted || groups >= 3, !wordAt(j) else { return }
        result.alerts.insert(.phoneDetected)
        add(.phoneDetected, start: s, end: j) { Masking.phone($0, digits: digits) }
    }
}

extension Masking {
    /// `+44 20 7946 0958` → `+44 ********58`: the country code (E.164's codes are a prefix code:
    /// 1 and 7 alone, the listed two-digit codes, every other code three digits), the last two
    /// digits, the rest starred.
    static func phone(_ bytes: UnsafeRawBufferPointer, digits: Int) -> String {
        var lead: (UInt8, UInt8) = (0, 0)
        var seen = 0
        for b in bytes where b &- 0x30 < 10 {
            if seen == 0 { lead.0 = b - 0x30 } else if seen == 1 { lead.1 = b - 0x30 }
            seen += 1
            if seen == 2 { break }
        }
        let country =
            lead.0 == 1 || lead.0 == 7 ? 1 : twoDigitCountryCodes.contains(Int(lead.0) * 10 + Int(lead.1)) ? 2 : 3
        return excerpt(capacity: 2 + digits) { w in
            w.put(UInt8(ascii: "+"))
            var k = 0
            for b in bytes where b &- 0x30 < 10 {
                if k < country || k >= digits - 2 { w.put(b) } else { w.put(UInt8(ascii: "*")) }
                if k == country - 1 { w.put(0x20) }
                k += 1
            }
        }
    }

    static let twoDigitCountryCodes: Set<Int> = [
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58,
        60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
    ]
}
