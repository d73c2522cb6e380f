// Tokens: api_key_detected and private_key_detected, and where the token detectors start.

enum Tokens {
    /// The first two bytes of every token the enabled detectors look for: API-key prefixes (case
    /// matters), `BEGIN` of a PEM header, and the base64url of a JWT header's first two bytes (a
    /// JSON object starts with `{` or JSON whitespace, then `"`, `}` or whitespace: `ey`, `IH`, …).
    /// The scan stops at a word start only if its two bytes are a pair here or begin a keyword.
    static func pairs(for patterns: Set<AlertCode>) -> [(UInt8, UInt8)] {
        var out: [String] = []
        if patterns.contains(.apiKeyDetected) { out += ["AK", "AS", "AI", "gh", "gi", "xo", "sk", "rk", "np"] }
        if patterns.contains(.privateKeyDetected) { out += ["BE"] }
        if patterns.contains(.jwtDetected) {
            // First byte `{` → `e`, space → `I`, tab/LF → `C`, CR → `D`; the second base64url
            // character carries the next byte's top four bits.
            out += ["ey", "ew", "e3", "IC", "IA", "IH", "CS", "CQ", "CX", "Ci", "Cg", "Cn", "DS", "DQ", "DX"]
        }
        return out.map { s in
            let b = Array(s.utf8); return (b[0], b[1])
        }
    }

    /// API-key families with a fixed length: prefix, total length, and whether the characters
    /// after the prefix may be UPPER ∪ DIGIT only (`upper`), ALNUM, ALNUM ∪ `_` or ALNUM ∪ `_-`.
    enum Charset { case upperDigit, alnum, alnumUnderscore, alnumUnderscoreHyphen }
}

extension Scan {
    /// At a word start whose first byte can begin a token (`Detector.token`).
    @inline(never)
    mutating func token(at i: Int) {
        let b1 = p[i + 1]
        switch p[i] {
        case 0x41, 0x67, 0x78, 0x73, 0x72, 0x6E:  // A g x s r n
            if patterns & AlertCode.apiKeyDetected.bit != 0 { apiKey(at: i) }
        case 0x42:  // B
            if b1 == 0x45 && patterns & AlertCode.privateKeyDetected.bit != 0 { privateKey(at: i) }
        default:  // e I C D
            if patterns & AlertCode.jwtDetected.bit != 0 { jwt(at: i) }
        }
    }

    /// The end of the maximal run of K = ALNUM ∪ {`_`, `-`} from `i`.
    @inline(__always)
    func keyRunEnd(from i: Int) -> Int {
        var j = i
        while j < n && (cls[Int(p[j] & 0x7F)] & Detector.word != 0 && p[j] < 0x80 || p[j] == 0x2D) { j += 1 }
        return j
    }

    /// A key candidate starts here (detectors-v2 §6) if the byte before is not in K either; it is the
    /// whole maximal run, so its length decides most families at once.
    mutating func apiKey(at i: Int) {
        guard i == 0 || p[i - 1] != 0x2D else { return }
        let family: (prefix: Int, fixed: Int, charset: Tokens.Charset)?
        var slack = false, stripe = false
        if matches("AKIA", at: i) || matches("ASIA", at: i) {
            family = (4, 20, .upperDigit)
        } else if matches("AIza", at: i) {
            family = (4, 39, .alnumUnderscoreHyphen)
        } else if matches("gh", at: i) && i + 3 < n && p[i + 3] == 0x5F
            && [0x70, 0x6F, 0x75, 0x73, 0x72].contains(p[i + 2])  // ghp_ gho_ ghu_ ghs_ ghr_
        {
            family = (4, 40, .alnum)
        } else if matches("github_pat_", at: i) {
            family = (11, 93, .alnumUnderscore)
        } else if matches("npm_", at: i) {
            family = (4, 40, .alnum)
        } else if matches("xox", at: i) && i + 4 < n && p[i + 4] == 0x2D
            && [0x62, 0x61, 0x70, 0x72, 0x73].contains(p[i + 3])  // xoxb- xoxa- xoxp- xoxr- xoxs-
        {
            family = nil
            slack = true
        } else if matches("sk_live_", at: i) || matches("rk_live_", at: i) {
            family = nil
            stripe = true
        } else {
            return
        }
        let end = keyRunEnd(from: i)
        guard !wordAt(end) else { return }
        var prefix = 4
        if let f = family {
            guard end - i == f.fixed else { return }
            prefix = f.prefix
            for k in i + f.prefix..<end {
                let b = p[k]
                let ok: Bool
                switch f.charset {
                case .upperDigit: ok = b &- 0x30 < 10 || b &- 0x41 < 26
                case .alnum: ok = isAlnum(k)
                case .alnumUnderscore: ok = b != 0x2D
                case .alnumUnderscoreHyphen: ok = true
                }
                guard ok else { return }
            }
        } else if stripe {
            prefix = 8
            guard end - i >= 32 else { return }
            for k in i + 8..<end where !isAlnum(k) { return }
        } else if slack {
            // One or more segments of 1+ digits and '-', then 10 or more ALNUM to the end.
            prefix = 5
            var k = i + 5
            var segments = 0
            while true {
                let start = k
                while k < end && p[k] &- 0x30 < 10 { k += 1 }
                guard k > start, k < end, p[k] == 0x2D else {
                    k = start
                    break
                }
                k += 1
                segments += 1
            }
            guard segments > 0, end - k >= 10 else { return }
            for t in k..<end where !isAlnum(t) { return }
        }
        result.alerts.insert(.apiKeyDetected)
        add(.apiKeyDetected, start: i, end: end) { Masking.apiKey($0, prefix: prefix) }
    }

    /// The six PEM private-key headers, as substrings (detectors-v2 §7), found at their `BEGIN`.
    mutating func privateKey(at i: Int) {
        guard i >= 5, matches("-----BEGIN ", at: i - 5) else { return }
        var k = i + 6
        for kind in ["RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "] as [StaticString] where matches(kind, at: k) {
            k += kind.utf8CodeUnitCount
            break
        }
        guard matches("PRIVATE KEY-----", at: k) else { return }
        let end = k + 16
        result.alerts.insert(.privateKeyDetected)
        add(.privateKeyDetected, start: i - 5, end: end) { String(decoding: $0, as: UTF8.self) }
    }
}

extension Masking {
    /// `ghp_1a2b…a1b2` → `ghp_…a1b2`: the family's prefix and the last four characters.
    static func apiKey(_ bytes: UnsafeRawBufferPointer, prefix: Int) -> String {
        excerpt(capacity: prefix + ellipsis.count + 4) { w in
            w.put(bytes[..<prefix])
            w.put(ellipsis)
            w.put(bytes[(bytes.count - 4)...])
        }
    }
}
