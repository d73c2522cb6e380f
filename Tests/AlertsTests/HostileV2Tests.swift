// HostileV2Tests: the shapes detectors-v2 warns about cost linear time, and the spec's deliberate
// edge cases (section 10) get the labels it gives them.

import Alerts
import Foundation
import Testing

@Suite struct HostileV2Tests {
    static let detector = Detector()

    /// Each shape repeated to about `bytes` bytes.
    static let shapes: [(String, @Sendable (Int) -> String)] = [
        ("plus-digits-dots", { String(repeating: "+1.2", count: $0 / 4) }),
        ("plus-run-then-digits", { String(repeating: "+", count: $0 - 12) + "1 555 123 45" }),
        ("plus-dotted-digits", { "+1" + String(repeating: ".1", count: $0 / 2) }),
        ("plus-brackets", { String(repeating: "+1 (2)", count: $0 / 6) }),
        ("base64url-dots", { String(repeating: "eyJhbGciOiJIUzI1NiJ9.", count: $0 / 21) }),
        ("eyJ-repeated", { String(repeating: "eyJ", count: $0 / 3) }),
        ("eyJ-words", { String(repeating: "eyJ ", count: $0 / 4) }),
        ("jwts", { String(repeating: "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz ", count: $0 / 46) }),
        (
            "jwt-long-header",
            { "eyJhbGciOiJIUzI1NiJ9" + String(repeating: "A", count: $0) + ".e30.c2lnbmF0dXJlLWJ5dGVz" }
        ),
        ("aiza-hyphens", { "AIza" + String(repeating: "-", count: $0) }),
        ("aiza-repeated", { String(repeating: "AIza-", count: $0 / 5) }),
        ("slack-segments", { "xoxb-" + String(repeating: "1-", count: $0 / 2) }),
        ("stripe-long", { "sk_live_" + String(repeating: "a", count: $0) }),
        ("pem-begins", { String(repeating: "-----BEGIN ", count: $0 / 11) }),
        ("pem-hyphens", { String(repeating: "-", count: $0) + "BEGIN PRIVATE KEY-----" }),
        ("iban-groups", { String(repeating: "DE89 3704 ", count: $0 / 10) }),
        ("iban-print-near-miss", { String(repeating: "DE89 3704 0044 0532 0130 01 ", count: $0 / 28) }),
        ("country-digits", { String(repeating: "DE1", count: $0 / 3) }),
    ]

    static func cpuSeconds(_ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<5 {
            var a = timespec(), b = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
            body()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
            best = min(best, Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9)
        }
        return best
    }

    /// Ten times the input costs about ten times the time: a quadratic scan would take a hundred
    /// times. The bound (30×) leaves room for noise and cache effects, not for a quadratic term.
    @Test(arguments: shapes.map(\.0))
    func costGrowsLinearly(shape: String) {
        let make = Self.shapes.first { $0.0 == shape }!.1
        let small = make(10_000), large = make(100_000)
        let t10 = Self.cpuSeconds { _ = Self.detector.scan(small) }
        let t100 = Self.cpuSeconds { _ = Self.detector.scan(large) }
        #expect(t100 / t10 < 30, "\(shape): 10 KB in \(t10 * 1e3) ms, 100 KB in \(t100 * 1e3) ms")
    }

    static func header(_ json: String) -> String {
        Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func token(_ json: String) -> String { header(json) + ".e30.c2lnbmF0dXJlLWJ5dGVz" }

    @Test func deliberateEdgeCasesGetTheSpecsLabels() {
        let cases: [(String, [AlertCode])] = [
            ("IBAN DE89 3704 0044 0532 0130 00", [.cardNumberDetected, .ibanDetected]),
            ("QA04 RKCV 105G 193S 579K 266T 986H 6", [.ibanDetected]),
            ("DE89 3704 0044 0532 0130 01", [.cardNumberDetected]),
            ("+1 555 123 4567", [.cardNumberDetected, .phoneDetected]),
            ("+44 20 7946 0958", [.cardNumberDetected, .phoneDetected]),
            ("+1 (555) 123-4567", [.phoneDetected]), ("+1.555.123.4567", [.phoneDetected]),
            ("+7 (495) 123-45-67", [.phoneDetected]), ("555-123-4567", [.cardNumberDetected]),
            ("2024-05-17 10:30", [.cardNumberDetected]),
            ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", [.apiKeyDetected, .cardNumberDetected]),
            (
                "https://x-access-token:ghs_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ@github.com/o/r",
                [.apiKeyDetected, .emailDetected]
            ),
            ("Stripe secret key: sk_live_abcdefghijklmnopqrstuvwx", [.apiKeyDetected, .personalData]),
            ("AIzaSyA-fake-12345abcdefghijklmnopqrstu", [.apiKeyDetected, .fraudAttempt]),
            ("my secret token: " + Self.token(#"{"alg":"HS256"}"#), [.jwtDetected, .personalData]),
            ("password here -----BEGIN RSA PRIVATE KEY-----", [.personalData, .privateKeyDetected]),
            ("BE68 5390 0754 7034 5678", [.cardNumberDetected, .ibanDetected]),
            ("x-DE89370400440532013000-y", [.cardNumberDetected, .ibanDetected]),
            ("DE89 3704 0044 0532 0130 0012", [.cardNumberDetected]), ("+12.345.678", [.phoneDetected]),
            ("++49 30 12345678", [.cardNumberDetected, .phoneDetected]), ("(+49) 30 12345678", [.cardNumberDetected]),
            ("+49 30 1234 5678 9012 3456", [.cardNumberDetected]), ("AKIAIOSFODNN7EXAMPLE", [.apiKeyDetected]),
            ("AIza" + String(repeating: "-", count: 35), [.apiKeyDetected]),
            ("sk_live_" + String(repeating: "a", count: 100_000), [.apiKeyDetected]),
            ("xoxb-1-" + String(repeating: "a", count: 100_000), [.apiKeyDetected]),
            ("------BEGIN RSA PRIVATE KEY------", [.privateKeyDetected]),
            ("-----BEGIN PGP PRIVATE KEY BLOCK-----", []), (Self.token(#"{"alg":"HS256"}"#) + "...", [.jwtDetected]),
            (Self.token(#"{"alg":"HS256"}"#) + ".Thanks", []),
            (Self.header(#"{"alg":"HS256"}"#) + ".e30.AAAAAAAAAAAAAAAAA", []),
            (
                Self.token(
                    #"{"alg":"x","n":"# + String(repeating: "[", count: 15) + String(repeating: "]", count: 15) + "}"),
                [.jwtDetected]
            ),
            (
                Self.token(
                    #"{"alg":"x","n":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}"),
                []
            ),
            (Self.token(#"{"alg":"x","n":"# + String(repeating: "7", count: 5000) + "}"), [.jwtDetected]),
            (#"{"alerts": ["api_key_detected"]}"#, []),
        ]
        for (text, codes) in cases {
            #expect(Self.detector.scan(text).alerts.sorted == codes, "\(text.prefix(80))")
        }
    }

    @Test func headerRulesBeyondTheExamples() {
        let fires: [(String, Bool)] = [
            (#"{"\u0061lg":"RS256"}"#, true), (#"{"alg":1,"alg":"x"}"#, true), (#"{"alg":""}"#, true),
            (#"{"a":{"alg":"x"}}"#, false), (#"{"alg":"x",}"#, false), (#"{'alg':'x'}"#, false),
            (#"{"alg":"x"} {}"#, false), ("\u{FEFF}" + #"{"alg":"x"}"#, false), (#"{"alg":"a\u0001"}"#, true),
            ("{\"alg\":\"a\u{01}\"}", false), (#"{"alg":"x","n":01}"#, false), (#"{"alg":"x","n":-0.5e+3}"#, true),
            (#"{"alg":"x","n":NaN}"#, false), (#"{"alg":"x","n":[1,2,{"b":null}]}"#, true),
            ("\t{\"alg\":\"x\"}\r\n", true), (#"{"alg":"x"/*c*/}"#, false), (#"{"ALG":"x"}"#, false),
            (#"{"alg":"\ud800"}"#, true), (#"{"alg":"x","s":"\x"}"#, false),
        ]
        for (json, expected) in fires {
            let text = Self.token(json)
            #expect(Self.detector.scan(text).alerts.contains(.jwtDetected) == expected, "\(json)")
        }
        // Invalid UTF-8 inside the header: an overlong '/', a surrogate, a lone continuation byte.
        for bad in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x80]] as [[UInt8]] {
            let bytes = Array(#"{"alg":"x","y":""#.utf8) + bad + Array(#""}"#.utf8)
            let h = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(!Self.detector.scan(h + ".e30.c2lnbmF0dXJlLWJ5dGVz").alerts.contains(.jwtDetected), "\(bad)")
        }
    }
}
