// ReferenceV2: the five v2 detectors written as plainly as detectors-v2 states them — scalar arrays,
// regular expressions on short candidates, a recursive JSON parser — for the differential tests.

import Foundation

extension Reference {
    static func v2Matches(_ s: [Unicode.Scalar]) -> [Match] {
        iban(s) + phone(s) + apiKeys(s) + privateKeys(s) + jwts(s)
    }

    static func wordAt(_ s: [Unicode.Scalar], _ k: Int) -> Bool { k >= 0 && k < s.count && isWord(s[k]) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
    static func isLetter(_ c: Unicode.Scalar) -> Bool { (65...90).contains(c.value) || (97...122).contains(c.value) }
    static func isAlnum(_ c: Unicode.Scalar) -> Bool { isDigit(c) || isLetter(c) }

    static let ibanLengths: [String: Int] = [
        "AD": 24, "AL": 28, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BY": 28, "CH": 21, "CY": 28, "CZ": 24,
        "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23, "GL": 18,
        "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
        "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
        "RS": 22, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "UA": 29, "VA": 22, "XK": 20, "AE": 23, "AZ": 28,
        "BH": 22, "BR": 29, "CR": 22, "DO": 28, "EG": 29, "GE": 22, "GT": 28, "IL": 23, "IQ": 23, "JO": 30,
        "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "MR": 27, "MU": 30, "PK": 24, "PS": 29, "QA": 29, "SA": 24,
        "SC": 31, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "VG": 24,
    ]

    /// Every start, both forms: the IBAN characters read off the span, then the rules on them.
    static func iban(_ s: [Unicode.Scalar]) -> [Match] {
        var out: [Match] = []
        for a in s.indices where a + 1 < s.count && isLetter(s[a]) && isLetter(s[a + 1]) {
            let country = String(String.UnicodeScalarView(s[a...a + 1])).uppercased()
            guard let length = ibanLengths[country] else { continue }
            for printForm in [false, true] {
                let spanLength = printForm ? length + (length - 1) / 4 : length
                guard a + spanLength <= s.count else { continue }
                let span = Array(s[a..<a + spanLength])
                var chars: [Unicode.Scalar] = []
                var ok = true
                for (k, c) in span.enumerated() {
                    if printForm && k % 5 == 4 {
                        ok = ok && c == " "
                    } else {
                        chars.append(c)
                    }
                }
                guard ok, chars.count == length, isDigit(chars[2]), isDigit(chars[3]),
                    chars[4...].allSatisfy(isAlnum), !wordAt(s, a - 1), !wordAt(s, a + spanLength)
                else { continue }
                let rearranged = chars[4...] + chars[..<4]
                var digits = ""
                for c in rearranged {
                    digits +=
                        isDigit(c) ? String(c) : String(Int(Character(c).uppercased().unicodeScalars.first!.value) - 55)
                }
                var r = 0
                for d in digits { r = (r * 10 + Int(String(d))!) % 97 }
                if r == 1 { out.append(Match(code: "iban_detected", offset: a, length: spanLength)) }
            }
        }
        return out
    }

    static let phoneRun = try! NSRegularExpression(
        pattern: #"\+[1-9][0-9]*+(?:[ .-][0-9]++)*+(?:[ .-]?\([0-9]++\)[0-9]*+(?:[ .-][0-9]++)*+)?+"#)

    static func phone(_ s: [Unicode.Scalar]) -> [Match] {
        var out: [Match] = []
        for a in s.indices where s[a] == "+" && !wordAt(s, a - 1) {
            // The regex on the rest of the message, anchored at this '+'.
            let rest = String(String.UnicodeScalarView(s[a...]))
            guard
                let m = phoneRun.firstMatch(
                    in: rest, options: .anchored, range: NSRange(location: 0, length: (rest as NSString).length))
            else { continue }
            let run = Array((rest as NSString).substring(with: m.range).unicodeScalars)
            let digits = run.filter(isDigit).count
            let groups = run.split { !isDigit($0) }.count
            guard (8...15).contains(digits), !run.contains(".") || groups >= 3, !wordAt(s, a + run.count) else {
                continue
            }
            out.append(Match(code: "phone_detected", offset: a, length: run.count))
        }
        return out
    }

    static let keyPattern = try! NSRegularExpression(
        pattern:
            #"^(?:(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}|xox[baprs]-(?:[0-9]+-)+[A-Za-z0-9]{10,}|[sr]k_live_[A-Za-z0-9]{24,}|AIza[A-Za-z0-9_-]{35}|npm_[A-Za-z0-9]{36})$"#
    )

    /// The maximal runs of a set, as (start, end).
    static func runs(_ s: [Unicode.Scalar], of member: (Unicode.Scalar) -> Bool) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var a = 0
        while a < s.count {
            guard member(s[a]) else {
                a += 1
                continue
            }
            var e = a
            while e < s.count && member(s[e]) { e += 1 }
            out.append((a, e))
            a = e
        }
        return out
    }

    static func apiKeys(_ s: [Unicode.Scalar]) -> [Match] {
        runs(s) { isAlnum($0) || $0 == "_" || $0 == "-" }.compactMap { a, e in
            guard !wordAt(s, a - 1), !wordAt(s, e) else { return nil }
            let candidate = String(String.UnicodeScalarView(s[a..<e]))
            let range = NSRange(location: 0, length: (candidate as NSString).length)
            guard keyPattern.firstMatch(in: candidate, range: range) != nil else { return nil }
            return Match(code: "api_key_detected", offset: a, length: e - a)
        }
    }

    static let pemHeaders = ["", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "].map {
        Array("-----BEGIN \($0)PRIVATE KEY-----".unicodeScalars)
    }

    static func privateKeys(_ s: [Unicode.Scalar]) -> [Match] {
        var out: [Match] = []
        for a in s.indices {
            for h in pemHeaders where a + h.count <= s.count && Array(s[a..<a + h.count]) == h {
                out.append(Match(code: "private_key_detected", offset: a, length: h.count))
            }
        }
        return out
    }

    static func jwts(_ s: [Unicode.Scalar]) -> [Match] {
        runs(s) { isAlnum($0) || $0 == "_" || $0 == "-" || $0 == "." }.compactMap { a, e in
            guard !wordAt(s, a - 1), !wordAt(s, e) else { return nil }
            var t = Array(s[a..<e])
            while t.last == "." { t.removeLast() }
            let parts = t.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            let (h, p, sig) = (parts[0], parts[1], parts[2])
            guard !h.isEmpty, p.count >= 2, sig.count >= 16, parts.allSatisfy({ $0.count % 4 != 1 }) else { return nil }
            guard let header = base64url(Array(h)), String(validating: header, as: UTF8.self) != nil else { return nil }
            var parser = JSONReference(bytes: header)
            guard parser.isHeader() else { return nil }
            return Match(code: "jwt_detected", offset: a, length: t.count)
        }
    }

    static func base64url(_ chars: [Unicode.Scalar]) -> [UInt8]? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".unicodeScalars)
        var bits: [Bool] = []
        for c in chars {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            for k in (0..<6).reversed() { bits.append(v >> k & 1 == 1) }
        }
        return stride(from: 0, to: bits.count / 8 * 8, by: 8).map { start in
            bits[start..<start + 8].reduce(0) { $0 << 1 | ($1 ? 1 : 0) }
        }
    }
}

/// RFC 8259 by recursive descent; the header rules of detectors-v2 §8.2 on top.
struct JSONReference {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func isHeader() -> Bool {
        ws()
        guard peek == UInt8(ascii: "{") else { return false }
        guard let hasAlg = object(depth: 1) else { return false }
        ws()
        return i == bytes.count && hasAlg
    }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }
    mutating func ws() { while let b = peek, [0x20, 0x09, 0x0A, 0x0D].contains(b) { i += 1 } }

    /// nil when invalid; otherwise whether a member `alg` has a string value.
    mutating func object(depth: Int) -> Bool? {
        guard depth <= 16 else { return nil }
        i += 1
        ws()
        var hasAlg = false
        if peek == UInt8(ascii: "}") {
            i += 1
            return false
        }
        while true {
            ws()
            guard peek == UInt8(ascii: "\""), let name = string() else { return nil }
            ws()
            guard peek == UInt8(ascii: ":") else { return nil }
            i += 1
            ws()
            let isString = peek == UInt8(ascii: "\"")
            guard value(depth: depth) else { return nil }
            if name == "alg" && isString { hasAlg = true }
            ws()
            if peek == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard peek == UInt8(ascii: "}") else { return nil }
            i += 1
            return hasAlg
        }
    }

    mutating func value(depth: Int) -> Bool {
        guard let b = peek else { return false }
        switch b {
        case UInt8(ascii: "{"): return object(depth: depth + 1) != nil
        case UInt8(ascii: "["):
            guard depth + 1 <= 16 else { return false }
            i += 1
            ws()
            if peek == UInt8(ascii: "]") {
                i += 1
                return true
            }
            while true {
                ws()
                guard value(depth: depth + 1) else { return false }
                ws()
                if peek == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard peek == UInt8(ascii: "]") else { return false }
                i += 1
                return true
            }
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for word in ["true", "false", "null"] where bytes[i...].starts(with: Array(word.utf8)) {
                i += word.utf8.count
                return true
            }
            return false
        default:
            // A number, by its grammar as a regular expression.
            let rest = String(decoding: bytes[i...], as: UTF8.self)
            let number = try! NSRegularExpression(pattern: #"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"#)
            guard
                let m = number.firstMatch(
                    in: rest, options: .anchored, range: NSRange(location: 0, length: (rest as NSString).length))
            else { return false }
            i += m.range.length  // ASCII only, so UTF-16 length = bytes
            return true
        }
    }

    /// The unescaped string, or nil when invalid.
    mutating func string() -> String? {
        i += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        while let b = peek {
            i += 1
            if b == UInt8(ascii: "\"") {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                return String(scalars)
            }
            if b < 0x20 { return nil }
            if b != UInt8(ascii: "\\") {
                raw.append(b)
                continue
            }
            guard let e = peek else { return nil }
            i += 1
            let simple: [UInt8: String] = [
                0x22: "\"", 0x5C: "\\", 0x2F: "/", 0x62: "\u{8}", 0x66: "\u{c}", 0x6E: "\n", 0x72: "\r", 0x74: "\t",
            ]
            if let s = simple[e] {
                raw += Array(s.utf8)
            } else if e == UInt8(ascii: "u") {
                guard i + 4 <= bytes.count,
                    let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16),
                    bytes[i..<i + 4].allSatisfy({ UInt8(ascii: "+") != $0 && UInt8(ascii: "-") != $0 })
                else { return nil }
                i += 4
                raw += Array(String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8)
            } else {
                return nil
            }
        }
        return nil
    }
}
