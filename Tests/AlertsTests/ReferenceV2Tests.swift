// ReferenceV2Tests: the engine's v2 detectors against ReferenceV2 on seeded random and mutated strings.

import Alerts
import Testing

@Suite struct ReferenceV2Tests {
    static let v2Codes = [
        "iban_detected", "phone_detected", "api_key_detected", "private_key_detected", "jwt_detected",
    ]

    /// Whole matches, their parts and their neighbours' characters, so random strings hit the edges:
    /// boundaries, separators, lengths one off, checksums broken by a neighbouring piece.
    static let alphabet: [String] = [
        // IBAN
        "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "NL91ABNA0417164300", "GB82 WEST 1234 5698 7654 32",
        "NO93 8601 1117 947", "DE", "89", "3704", "0044", "00", "GB82", "WEST",
        // phone
        "+", "+1", "+49", "+44 20 7946 0958", "+1 (555) 123-4567", "(", ")", "(0)", "555", "123", "4567", ".", "-", " ",
        // API keys
        "AKIAIOSFODNN7EXAMPLE", "AKIA", "IOSFODNN7EXAMPLE", "ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ", "ghp_",
        "xoxb-", "1-", "abcdefghijkl", "sk_live_", "abcdefghijklmnopqrstuvwx",
        "AIzaSyA-12345_abcdefghijklmnopqrstuvwxy",
        "AIza", "npm_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ", "_",
        // private keys
        "-----BEGIN ", "-----BEGIN RSA PRIVATE KEY-----", "RSA ", "EC ", "PRIVATE KEY-----", "-----", "BEGIN",
        // JWT
        "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz", "e30", "c2lnbmF0dXJlLWJ5dGVz",
        "AAAA", "IHsiYWxnIjoibm9uZSJ9", "eyJ0eXAiOiJKV1QifQ",
        // other scalars
        "x", "é", "日", "\u{0301}", "\u{00a0}", "😀", "：", "7", "@", "a@b.io", "password", "ж",
    ]

    @Test func engineAgreesWithTheReferenceOnRandomStrings() {
        guard
            let seen = Reference.agreement(
                alphabet: Self.alphabet, seed: 0x1BA4, samples: 20_000, pieces: { 1 + Int($0.next() % 10) })
        else { return }
        for code in Self.v2Codes {
            #expect(seen[code, default: 0] > 300, "only \(seen[code, default: 0]) \(code) matches in the sample")
        }
    }

    /// Valid instances with one to three edits each (insert a piece, delete, replace or duplicate a
    /// scalar), between random neighbours.
    static let instances = [
        "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
        "+44 (0)20 7946 0958", "+1.555.123.4567", "+31 (6) 1234.5678", "+49 30 1234 5678 901",
        "AKIAIOSFODNN7EXAMPLE",
        "github_pat_11ABCDEFGHIJKLMNOPQRST_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW",
        "xoxp-1-2-3-abcdef0123456789", "rk_live_abcdefghijklmnopqrstuvwxyz0123456789",
        "AIzaSyA-12345_abcdefghijklmnopqrstuvwxy", "-----BEGIN OPENSSH PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz",
        "IHsiYWxnIjoibm9uZSJ9.e30.AAAAAAAAAAAAAAAA",
    ]

    @Test func engineAgreesWithTheReferenceOnMutatedMatches() {
        var rng = SplitMix64(seed: 0x3D17)
        let detector = Detector()
        var seen: [String: Int] = [:]
        let edits: [Unicode.Scalar] = [
            " ", "-", ".", "_", "0", "9", "a", "Z", "+", "(", ")", "é", "\u{0301}", "=", "@", "日",
        ]
        for _ in 0..<20_000 {
            var s = Array(Self.instances[Int(rng.next() % UInt64(Self.instances.count))].unicodeScalars)
            for _ in 0..<(rng.next() % 4) {
                let at = Int(rng.next() % UInt64(s.count))
                switch rng.next() % 4 {
                case 0: s.insert(edits[Int(rng.next() % UInt64(edits.count))], at: at)
                case 1: if s.count > 1 { s.remove(at: at) }
                case 2: s[at] = edits[Int(rng.next() % UInt64(edits.count))]
                default: s.insert(s[at], at: at)
                }
            }
            let pick = { (rng: inout SplitMix64) in
                rng.next() % 3 == 0 ? "" : Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))]
            }
            let text = pick(&rng) + String(String.UnicodeScalarView(s)) + pick(&rng)
            guard Reference.agrees(detector, on: text) else { return }
            for m in Reference.matches(text) { seen[m.code, default: 0] += 1 }
        }
        for code in Self.v2Codes {
            #expect(seen[code, default: 0] > 400, "only \(seen[code, default: 0]) \(code) matches in the sample")
        }
    }

    /// Every v2 pattern, and words that start like one, at every offset modulo the scanner's 8- and
    /// 16-byte chunks, after ASCII, Cyrillic or CJK text.
    @Test func v2MatchesAtEveryChunkOffset() {
        let detector = Detector()
        let needles = [
            "DE89 3704 0044 0532 0130 00", "NL91ABNA0417164300", "+44 (0)20 7946 0958", "+12.345.678",
            "AKIAIOSFODNN7EXAMPLE", "npm_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ", "xoxp-1-2-3-abcdef0123456789",
            "-----BEGIN EC PRIVATE KEY-----", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz",
            "every", "skip", "github", "C++14", "+0", "BEGIN", "eyJ", "Cg", "IHs", "DE89", "AIza",
        ]
        for prefix in ["", "ab ", "привет ", "日本 ", "q", "-", "@", "+"] {
            for pad in 0..<17 {
                for needle in needles {
                    for suffix in ["", " ", "x", "0", ".", "-", "日"] {
                        let text = prefix + String(repeating: "z", count: pad) + " " + needle + suffix
                        guard Reference.agrees(detector, on: text) else { return }
                    }
                }
            }
        }
    }
}
