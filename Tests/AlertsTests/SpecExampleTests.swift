// SpecExampleTests: every Match / No match example of detectors-v2 (docs/detection.md), and its
// tables of overlapping codes, as table tests.

import Alerts
import Testing

@Suite struct SpecExampleTests {
    static let detector = Detector()

    static let iban: (match: [String], none: [String]) = (
        [
            "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "de89370400440532013000",
            "De89 3704 0044 0532 0130 00", "IBAN: GB82 WEST 1234 5698 7654 32.", "gb82west12345698765432",
            "(NL91ABNA0417164300)", "NO93 8601 1117 947 NOK", "iban=BE68539007547034&ref=7",
            "Konto: CH93 0076 2011 6238 5295 7", "账户：FR14 2004 1010 0505 0001 3M02 606。",
            "x-DE89370400440532013000-y", "BE68 5390 0754 7034 5678", "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
            "LC55 HEMM 0001 0001 0012 0012 0002 3015", "QA04 RKCV 105G 193S 579K 266T 986H 6",
        ],
        [
            "DE89 3704 0044 0532 0130 01", "DE88 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 0",
            "DE54 3704 0044 0532 0130 001", "US64 SVBK US6S 3300 9588 79", "DE89-3704-0044-0532-0130-00",
            "DE89.3704.0044.0532.0130.00", "DE89\u{00a0}3704\u{00a0}0044\u{00a0}0532\u{00a0}0130\u{00a0}00",
            "DE89  3704  0044  0532  0130  00", "DE 89 3704 0044 0532 0130 00", "DE893704 0044 0532 0130 00",
            "DE89 370 400 440 532 013 000", "DE89 3704 0044 0532 0130 0012", "IBANDE89370400440532013000",
            "DE89370400440532013000EUR", "DE89370400440532013000_old", "1DE89370400440532013000",
            "账户DE89370400440532013000", "DE89370400440532013000\u{0301}", "\u{ff24}\u{ff25}89 3704 0044 0532 0130 00",
            "D\u{0415}89 3704 0044 0532 0130 00", "GB29 NWB\u{212a} 6016 1331 9268 19",
        ]
    )

    static let phone: (match: [String], none: [String]) = (
        [
            "+1 555 123 4567", "+1-555-123-4567", "+1.555.123.4567", "+1 (555) 123-4567", "+1(555)123-4567",
            "+15551234567", "+44 20 7946 0958", "+44 (0)20 7946 0958", "+49 (0) 89 123456", "+49(30)12345678",
            "+33 6 12 34 56 78", "+7 (495) 123-45-67", "+86 138 0013 8000", "tel:+81-3-1234-5678",
            "Call +91 98765 43210.", "(+49 30 12345678)", "+49 30 1234567-", "+1 234 5678",
            "+49 30 1234 5678 901", "++49 30 12345678", "+12.345.678", "+31 (6) 1234.5678",
            "電話：+81 3-1234-5678（代表）", "\u{200f}+971 50 123 4567\u{200f}",
        ],
        [
            "+49 30 123", "+1234567890123456", "+49 30 1234 5678 9012 3456", "+0 30 12345678", "+ 49 30 12345678",
            "(+49) 30 12345678", "tel+4930123456", "x+49 30 12345678", "1+4930123456", "+4930123456x",
            "+4930123456_", "+49 30 1234567\u{0301}", "+49 30 1234567\u{0663}", "+48.8566140", "+1234567.89",
            "+1.5551234567", "+12,345,678", "+49/30/12345678", "+49\u{00a0}30\u{00a0}12345678",
            "+49\u{2013}30\u{2013}12345678", "+49  30 12345678", "+49 30--12345678", "+1 (555) (123) 4567",
            "+1 (555 123 4567", "+1 () 555 1234", "+1 [555] 123-4567", "\u{ff0b}49 30 12345678",
            "+\u{ff14}\u{ff19} 30 12345678", "2024-05-17 10:30", "4111 1111 1111 1111", "555-123-4567",
            "(555) 123-4567", "v1.2.3.4567890", "C++14 and C++17",
        ]
    )

    static let apiKey: (match: [String], none: [String]) = (
        [
            "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id=ASIAIOSFODNN7EXAMPLE", "(AKIAIOSFODNN7EXAMPLE).",
            "ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ", "token: ghs_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ;",
            "github_pat_11ABCDEFGHIJKLMNOPQRST_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxp-1-2-3-abcdef0123456789",
            "sk_live_abcdefghijklmnopqrstuvwx", "rk_live_abcdefghijklmnopqrstuvwxyz0123456789",
            "key=AIzaSyA-12345_abcdefghijklmnopqrstuvwxy&x=1", "npm_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ",
            "キーは AKIAIOSFODNN7EXAMPLE です", "\u{1F511}AKIAIOSFODNN7EXAMPLE\u{1F511}",
        ],
        [
            "akiaiosfodnn7example", "AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNn7EXAMPLE",
            "myAKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE_old", "AKIAIOSFODNN7EXAMPLE-2",
            "AKIAIOSFODNN7EXAMPLE\u{0301}", "キーはAKIAIOSFODNN7EXAMPLEです", "AIDAIOSFODNN7EXAMPLE",
            "GHP_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ", "ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXY",
            "ghx_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ", "ghp_1a2b3c4d5e6f7g8h9i0j-LMNOPQRSTUVWXYZ",
            "xoxb-not-a-token", "xoxb-123-abcdefghi", "xoxo-123-abcdefghijkl", "xoxb--123-abcdefghijkl",
            "xapp-1-A0123-1234567890-abcdefghijkl", "sk_test_abcdefghijklmnopqrstuvwx",
            "pk_live_abcdefghijklmnopqrstuvwx", "sk_live_abcdefghijklmnopqrstuvw",
            "AIzaSyA-12345_abcdefghijklmnopqrstuvwx", "AIzaSyA-12345_abcdefghijklmnopqrstuvwxy-",
            "npm_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXY", "d41d8cd98f00b204e9800998ecf8427e",
        ]
    )

    static let privateKey: (match: [String], none: [String]) = (
        [
            "-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----",
            "-----BEGIN DSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----", "------BEGIN RSA PRIVATE KEY------",
            "key:-----BEGIN EC PRIVATE KEY-----MHcCAQEE", #""-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg""#,
            "\u{2014}\u{2013}-----BEGIN RSA PRIVATE KEY-----",
        ],
        [
            "-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----", "-----BEGIN DH PRIVATE KEY-----",
            "-----BEGIN  PRIVATE KEY-----", "-----begin private key-----", "-----BEGIN Private Key-----",
            "----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY----", "-----END PRIVATE KEY-----",
            "----- BEGIN PRIVATE KEY -----", "-----BEGIN RSA ENCRYPTED PRIVATE KEY-----",
            "-----BEGIN DSA  PRIVATE KEY-----", "-----BEGIN PRIVATE\nKEY-----", "-----BEGIN\u{00a0}PRIVATE KEY-----",
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
            "\u{ff0d}\u{ff0d}\u{ff0d}\u{ff0d}\u{ff0d}BEGIN RSA PRIVATE KEY\u{ff0d}\u{ff0d}\u{ff0d}\u{ff0d}\u{ff0d}",
            "-----BEGIN PRIV\u{200b}ATE KEY-----",
        ]
    )

    static let jwt: (match: [String], none: [String]) = (
        [
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz",
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz",
            "see eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz...",
            "token=eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz&state=x",
            "IHsiYWxnIjoibm9uZSJ9.e30.c2lnbmF0dXJlLWJ5dGVz", "eyJhbGciOiJIUzI1NiJ9.e30.AAAAAAAAAAAAAAAA",
            "JWT：eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz。",
        ],
        [
            "eyJ0eXAiOiJKV1QifQ.e30.c2lnbmF0dXJlLWJ5dGVz", "eyJhbGciOm51bGx9.e30.c2lnbmF0dXJlLWJ5dGVz",
            "aGVsbG8.e30.c2lnbmF0dXJlLWJ5dGVz", "eyJhbGciOiJIUzI1NiJ9.e30",
            "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz.e30",
            "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz.Thanks", "eyJhbGciOiJIUzI1NiJ9.e30.AAAAAAAAAAAAAAA",
            "eyJhbGciOiJIUzI1NiJ9.e30.AAAAAAAAAAAAAAAAA", "eyJhbGciOiJIUzI1NiJ9.e.c2lnbmF0dXJlLWJ5dGVz",
            "eyJhbGciOiJIUzI1NiJ9..c2lnbmF0dXJlLWJ5dGVz", "eyJhbGciOiJIUzI1NiJ9.e30.",
            "eyJhbGciOiJIUzI1NiJ9=.e30.c2lnbmF0dXJlLWJ5dGVz", "jwteyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz",
            "jwt_eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz",
            "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz\u{00e9}", "令牌eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz",
            "www.example.com.evil-site.org", "abc.def.ghijklmnopqrstuvwxyz",
        ]
    )

    static let seed: [(AlertCode, match: [String], none: [String])] = [
        (
            .personalData, ["Password:", "top-secret", "密码 password", "AWS secret access key"],
            ["AWS_SECRET_ACCESS_KEY", "STRIPE_SECRET_KEY=x", "secrets", "Pаssword"]
        ),
        (
            .cardNumberDetected,
            [
                "DE89 3704 0044 0532 0130 00", "+1 555 123 4567",
                "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            ],
            ["+1 (555) 123-4567", "+1.555.123.4567", "QA04 RKCV 105G 193S 579K 266T 986H 6"]
        ),
    ]

    static var cases: [(AlertCode, String, Bool)] {
        var out: [(AlertCode, String, Bool)] = []
        for (code, table) in [
            (AlertCode.ibanDetected, iban), (.phoneDetected, phone), (.apiKeyDetected, apiKey),
            (.privateKeyDetected, privateKey), (.jwtDetected, jwt),
        ] {
            out += table.match.map { (code, $0, true) } + table.none.map { (code, $0, false) }
        }
        for (code, match, none) in seed { out += match.map { (code, $0, true) } + none.map { (code, $0, false) } }
        return out
    }

    @Test(arguments: cases)
    func example(code: AlertCode, text: String, fires: Bool) {
        let result = Self.detector.scan(text)
        #expect(result.alerts.contains(code) == fires, "\(code) on \(text.debugDescription): \(result.alerts.sorted)")
        // A finding for every code that fired, and only for those.
        #expect(Set(result.findings.map(\.code)) == Set(result.alerts.sorted))
    }

    /// What each v2 finding may show: IBAN country, check digits and last two; phone country code
    /// and last two digits; API key prefix and last four; the PEM header only; JWT `alg` and `typ`.
    @Test func maskedExcerptsShowOnlyWhatTheyMay() {
        let jwt = { (json: String) in
            HostileV2Tests.token(json)
        }
        let cases: [(String, AlertCode, String)] = [
            ("DE89370400440532013000", .ibanDetected, "DE89 **** **** **** **** 00"),
            ("de89 3704 0044 0532 0130 00", .ibanDetected, "de89 **** **** **** **** 00"),
            ("NO93 8601 1117 947", .ibanDetected, "NO93 **** **** *47"),
            ("+1 555 123 4567", .phoneDetected, "+1 ********67"),
            ("+7 (495) 123-45-67", .phoneDetected, "+7 ********67"),
            ("+44 (0)20 7946 0958", .phoneDetected, "+44 *********58"),
            ("+971 50 123 4567", .phoneDetected, "+971 *******67"),
            ("AKIAIOSFODNN7EXAMPLE", .apiKeyDetected, "AKIA…MPLE"),
            ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", .apiKeyDetected, "xoxb-…UvWx"),
            ("sk_live_abcdefghijklmnopqrstuvwx", .apiKeyDetected, "sk_live_…uvwx"),
            (
                "github_pat_11ABCDEFGHIJKLMNOPQRST_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW",
                .apiKeyDetected, "github_pat_…TUVW"
            ),
            ("x-----BEGIN EC PRIVATE KEY-----MHcCAQEE", .privateKeyDetected, "-----BEGIN EC PRIVATE KEY-----"),
            (jwt(#"{"alg":"HS256","typ":"JWT"}"#), .jwtDetected, "alg=HS256 typ=JWT"),
            (jwt(#"{"typ":"at+jwt","alg":"ES256K"}"#), .jwtDetected, "alg=ES256K typ=at+jwt"),
            (jwt(#"{"alg":"john.doe@example.com"}"#), .jwtDetected, "alg=?"),
            (jwt(#"{"alg":"4111111111111111"}"#), .jwtDetected, "alg=?"),
            (jwt(#"{"alg":"\u0048S256"}"#), .jwtDetected, "alg=?"), (jwt(#"{"alg":""}"#), .jwtDetected, #"alg="""#),
        ]
        for (text, code, masked) in cases {
            let found = Self.detector.scan(text).findings.filter { $0.code == code }.map(\.masked)
            #expect(found == [masked], "\(text.prefix(60))")
        }
    }
}
