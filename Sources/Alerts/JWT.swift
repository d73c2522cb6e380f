// JWT: jwt_detected — three base64url segments whose first decodes to a JSON header with `alg`.

extension Scan {
    /// At a word start that can begin a JWT header (`ey`, `IH`, …): the maximal run of J = ALNUM ∪
    /// {`_`, `-`, `.`} from here is the candidate if nothing of J comes before it (detectors-v2 §8).
    /// The walk stops at a third inner dot; runs never overlap, so the scan stays linear.
    mutating func jwt(at i: Int) {
        guard i == 0 || (p[i - 1] != 0x2D && p[i - 1] != 0x2E) else { return }
        var dots = (0, 0)
        var count = 0
        var j = i
        var lastNonDot = i
        while j < n {
            let b = p[j]
            if b == 0x2E {
                j += 1
                continue
            }
            guard b < 0x80 && (cls[Int(b)] & Detector.word != 0 || b == 0x2D) else { break }
            // A dot (or several) between J characters is an inner one.
            if j > lastNonDot + 1 {
                guard count < 2, j == lastNonDot + 2 else { return }  // a third inner dot, or `..`
                if count == 0 { dots.0 = j - 1 } else { dots.1 = j - 1 }
                count += 1
            }
            lastNonDot = j
            j += 1
        }
        let end = lastNonDot + 1  // trailing dots dropped
        guard count == 2, !wordAt(j) else { return }
        let h = dots.0 - i, pl = dots.1 - dots.0 - 1, s = end - dots.1 - 1
        guard h >= 1, pl >= 2, s >= 16, h % 4 != 1, pl % 4 != 1, s % 4 != 1 else { return }
        guard let masked = JWTHeader.parse(base64url: UnsafeBufferPointer(start: p + i, count: h)) else { return }
        result.alerts.insert(.jwtDetected)
        add(.jwtDetected, start: i, end: end) { _ in masked }
    }
}

extension Masking {
    /// `alg=HS256 typ=JWT`: the decoded header's `alg` and `typ` only, each shown when it looks like
    /// an algorithm or type name (at most 12 of ALNUM and `+-._`, at most 6 digits) and as `?`
    /// otherwise: a header is attacker-written text and could carry anything.
    static func jwt(alg: UnsafeBufferPointer<UInt8>, typ: UnsafeBufferPointer<UInt8>?) -> String {
        excerpt(capacity: 4 + 12 + (typ == nil ? 0 : 5 + 12)) { w in
            w.put("alg=".utf8)
            shown(alg, &w)
            if let typ {
                w.put(" typ=".utf8)
                shown(typ, &w)
            }
        }
    }

    static func shown(_ bytes: UnsafeBufferPointer<UInt8>, _ w: inout Writer) {
        var digits = 0
        var plain = !bytes.isEmpty && bytes.count <= 12
        for b in bytes where plain {
            if b &- 0x30 < 10 { digits += 1 }
            plain = b &- 0x30 < 10 || (b | 0x20) &- 0x61 < 26 || b == 0x2B || b == 0x2D || b == 0x2E || b == 0x5F
        }
        if plain && digits <= 6 {
            w.put(bytes)
        } else if bytes.isEmpty {
            w.put(UInt8(ascii: "\""), times: 2)
        } else {
            w.put(UInt8(ascii: "?"))
        }
    }
}
