// RulesTests: rules files change keywords and detectors; bad files name the line and the problem.

import Alerts
import Testing

@Suite struct RulesTests {
    @Test func aRulesFileChangesTheDefaults() throws {
        let rules = try Rules(
            parsing: """
                # our words
                personal_data = password, pin  passcode
                fraud_attempt = off
                email_detected = off   # no e-mail detection

                """)
        let d = Detector(rules: rules)
        #expect(d.scan("my PIN").alerts.sorted == [.personalData])
        #expect(d.scan("a scam").alerts.isEmpty)
        #expect(d.scan("a@b.com").alerts.isEmpty)
        #expect(d.scan("1234567890").alerts.sorted == [.cardNumberDetected])  // untouched: default on
    }

    @Test func eachV2CodeCanBeTurnedOffByItsCodeOrShortName() throws {
        let samples: [(AlertCode, String)] = [
            (.ibanDetected, "DE89370400440532013000x DE89 3704 0044 0532 0130 00"),
            (.phoneDetected, "+1 (555) 123-4567"),
            (.apiKeyDetected, "AKIAIOSFODNN7EXAMPLE"), (.privateKeyDetected, "-----BEGIN PRIVATE KEY-----"),
            (.jwtDetected, "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLWJ5dGVz"),
        ]
        for (code, text) in samples {
            #expect(Detector().scan(text).alerts.contains(code), "on by default: \(code)")
            for name in [code.rawValue, code.shortName] {
                let rules = try Rules(parsing: "\(name) = off")
                #expect(!rules.isEnabled(code))
                #expect(!Detector(rules: rules).scan(text).alerts.contains(code), "\(name) = off")
                #expect(
                    Detector(rules: try Rules(parsing: "\(name) = off\n\(name) = on")).scan(text).alerts.contains(code))
            }
        }
        // Turning the v2 detectors off leaves the four seed codes as they were.
        let v1 = try Rules(parsing: "iban = off\nphone = off\napi_key = off\nprivate_key = off\njwt = off")
        #expect(
            Detector(rules: v1).scan("+1 555 123 4567 password").alerts.sorted == [.cardNumberDetected, .personalData])
    }

    @Test func nonASCIIKeywordsMatchExactlyAndASCIIPartsIgnoreCase() throws {
        let d = Detector(rules: try Rules(parsing: "fraud_attempt = мошенничество Betrug"))
        #expect(d.scan("это мошенничество!").alerts.sorted == [.fraudAttempt])
        #expect(d.scan("BETRUG").alerts.sorted == [.fraudAttempt])
        #expect(d.scan("МОШЕННИЧЕСТВО").alerts.isEmpty)  // no Unicode case folding, by contract
    }

    @Test(arguments: [
        ("personal_data password", "line 1: expected \"code = value\", got \"personal_data password\""),
        (
            "\n\nsecrets = x",
            "line 3: unknown alert code \"secrets\" (known: api_key_detected, card_number_detected, email_detected, fraud_attempt, iban_detected, jwt_detected, personal_data, phone_detected, private_key_detected)"
        ),
        ("email_detected = maybe", "line 1: email_detected takes on or off, got \"maybe\""),
        ("# v2\njwt = sometimes", "line 2: jwt_detected takes on or off, got \"sometimes\""),
        ("iban: off", "line 1: expected \"code = value\", got \"iban: off\""),
        (
            "personal_data = pass-word",
            "line 1: keyword \"pass-word\" has a character that is not a letter, mark, digit or _; it could never match a whole word"
        ),
    ])
    func badFilesNameTheLine(text: String, message: String) {
        #expect(performing: { _ = try Rules(parsing: text) }, throws: { "\($0)" == message })
    }
}
