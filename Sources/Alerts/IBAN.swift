// IBAN: iban_detected — a bounded IBAN in compact or print form with a valid MOD 97-10 checksum.

enum IBAN {
    /// The closed country table of detectors-v2 §4.1: code and length. A country not listed never
    /// yields an IBAN, whatever its checksum.
    static let table = """
        AD24 AL28 AT20 BA20 BE16 BG22 BY28 CH21 CY28 CZ24 DE22 DK18 EE20 ES24 FI18 FO18 FR27 GB22 GI23 GL18 \
        GR27 HR21 HU28 IE22 IS26 IT27 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MT31 NL18 NO15 PL28 PT25 RO24 \
        RS22 SE24 SI19 SK24 SM27 UA29 VA22 XK20 AE23 AZ28 BH22 BR29 CR22 DO28 EG29 GE22 GT28 IL23 IQ23 JO30 \
        KW30 KZ20 LB28 LC32 MR27 MU30 PK24 PS29 QA29 SA24 SC31 ST25 SV28 TL23 TN24 TR26 VG24
        """

    /// Length by country, at `(c1 - 'a') * 26 + (c2 - 'a')` of the lower-cased letters; 0: not listed.
    static let lengths: [UInt8] = {
        var out = [UInt8](repeating: 0, count: 26 * 26)
        for entry in table.split(separator: " ") {
            let b = Array(entry.utf8)
            out[Int(b[0] - 0x41) * 26 + Int(b[1] - 0x41)] = UInt8(String(entry.dropFirst(2)))!
        }
        return out
    }()
}

extension Scan {
    /// At a country code `p[s] p[s+1]` (ASCII letters) followed by a digit: a compact or print-form
    /// IBAN starting there, bounded, with a valid checksum. Looks at most 40 bytes ahead, once per
    /// digit run, so the scan stays linear.
    mutating func iban(at s: Int) {
        let row = Int((p[s] | 0x20) - 0x61), column = Int((p[s + 1] | 0x20) - 0x61)
        let length = Int(IBAN.lengths[row * 26 + column])
        guard length != 0, isDigit(s + 3), !wordBefore(s) else { return }
        // Compact: `length` ALNUM characters, then a non-word scalar.
        var compact = s + length <= n && !wordAt(s + length)
        if compact {
            for k in 4..<length where !isAlnum(s + k) {
                compact = false
                break
            }
        }
        let end: Int
        if compact {
            end = s + length
        } else {
            // Print: groups of four with exactly one space between them; the last group may be short.
            end = s + length + (length - 1) / 4
            guard end <= n, !wordAt(end) else { return }
            for k in 4..<length {
                let at = s + k + k / 4
                guard isAlnum(at), k % 4 != 0 || p[at - 1] == 0x20 else { return }
            }
        }
        // ISO 7064 MOD 97-10 over the BBAN, then the country code and check digits; reduced only when
        // the next step could overflow (below 10^16, times 100 plus 35 stays in 64 bits).
        var r: UInt64 = 0
        for k in 0..<length {
            let index = (k + 4) % length
            let b = p[s + index + (compact ? 0 : index / 4)]
            if r >= 10_000_000_000_000_000 { r %= 97 }
            r = b &- 0x30 < 10 ? r * 10 + UInt64(b - 0x30) : r * 100 + UInt64((b | 0x20) - 0x61) + 10
        }
        guard r % 97 == 1 else { return }
        result.alerts.insert(.ibanDetected)
        add(.ibanDetected, start: s, end: end) { Masking.iban($0, length: length) }
    }

    /// At the first digit of a digit run after a letter or a '+': an IBAN's check digits or a phone
    /// number's country code may start here.
    @inline(never)
    mutating func digitRunStart(at i: Int) {
        if p[i - 1] == 0x2B {
            if patterns & AlertCode.phoneDetected.bit != 0 { phone(plus: i - 1) }
        } else if patterns & AlertCode.ibanDetected.bit != 0 && i >= 2 && (p[i - 2] | 0x20) &- 0x61 < 26 {
            iban(at: i - 2)
        }
    }
}

extension Masking {
    /// `DE89370400440532013000` or its print form → `DE89 **** **** **** **** 00`: country and check
    /// digits, the last two characters, the rest starred in groups of four.
    static func iban(_ bytes: UnsafeRawBufferPointer, length: Int) -> String {
        excerpt(capacity: length + (length - 1) / 4) { w in
            var k = 0
            for b in bytes where b != 0x20 {
                if k >= 4 && k % 4 == 0 { w.put(0x20) }
                w.put(k < 4 || k >= length - 2 ? b : UInt8(ascii: "*"))
                k += 1
            }
        }
    }
}
