// DetectorTests: every rule of the alert contract, its examples, Unicode edges and hostile inputs.

import Alerts
import Testing

@Suite struct DetectorTests {
    let detector = Detector()

    func alerts(_ text: String) -> [String] { detector.scan(text).alerts.sorted.map(\.rawValue) }

    // MARK: personal_data / fraud_attempt: whole words, ASCII case only

    @Test(arguments: [
        "Password:", "top-secret", "<b>fraud</b>", "🔑password🔑", "my CREDENTIALS", "a_b secret", "SeCrEt",
        "scam!", "it is fake.", "password\u{0}x", "tab\tsecret\n", "x password",
    ])
    func keywordMatches(text: String) {
        #expect(!alerts(text).isEmpty, "\(text.debugDescription) should match")
    }

    @Test(arguments: [
        "passwords", "secretary", "fake_news", "Password123", "p\u{0430}ssword", "ｐａｓｓｗｏｒｄ", "pass\u{200B}word",
        "密码password", "password密码", "passwordé", "password\u{0301}", "_secret", "secret_", "frauds", "scams",
        "pass word", "PASSWORDS", "credential",
    ])
    func keywordDoesNotMatch(text: String) {
        #expect(
            alerts(text).filter { $0 == "personal_data" || $0 == "fraud_attempt" }.isEmpty,
            "\(text.debugDescription) must not match")
    }

    @Test func formatCharactersSeparateWords() {
        // U+200D (ZWJ) and U+00AD (soft hyphen) are format characters: separators, so each side is a word.
        #expect(alerts("x\u{200D}password\u{00AD}y") == ["personal_data"])
        #expect(alerts("pass\u{00AD}word") == [])
    }

    @Test func unicodeLowercasingIsNotUsed() {
        // "K" (Kelvin sign) lowercases to ASCII "k" under Unicode rules; "ſ" (long s) uppercases to "S".
        let kelvinFake = "fa\u{212A}e"
        #expect(alerts(kelvinFake) == [])
        #expect(alerts("\u{017F}cam") == [])
        #expect(alerts("ſecret") == [])
    }

    // MARK: email_detected

    @Test(arguments: [
        "test@mail.com", "x@y.com123", "https://user:pass@example.com", "a.b-c+d%e_f@sub-1.example.co.uk",
        "<john@example.org>", "mail:a@b.cd", "x@y.z.com", "юзер a@b.ru",
    ])
    func emailMatches(text: String) {
        #expect(alerts(text).contains("email_detected"), "\(text.debugDescription)")
    }

    @Test(arguments: [
        "user@localhost", "a@b.c", "user@192.168.0.1", "иван@mail.ru", "@example.com", "a@.com", "a@b..com",
        "a@b.c1", "plain text", "a@-", "a@b.c.d", "user@exa mple.com",
    ])
    func emailDoesNotMatch(text: String) {
        #expect(!alerts(text).contains("email_detected"), "\(text.debugDescription)")
    }

    // MARK: card_number_detected

    @Test(arguments: [
        "1234 5678 9012 3456", "555-123-4567", "id1234567890", "1234567890", "12345-67890", "1-2-3-4-5-6-7-8-9-0",
        "4111-1111 1111-1111", "x1234567890y",
    ])
    func cardMatches(text: String) {
        #expect(alerts(text).contains("card_number_detected"), "\(text.debugDescription)")
    }

    @Test(arguments: [
        "123-45-6789", "(555) 123-4567", "12345\t67890", "12345\u{00A0}67890", "12345\u{2013}67890",
        "١٢٣٤٥٦٧٨٩٠١", "12345  67890", "12345--67890", "123456789", "12345 -67890", "1 2 3 4 5 6 7 8 9",
    ])
    func cardDoesNotMatch(text: String) {
        #expect(!alerts(text).contains("card_number_detected"), "\(text.debugDescription)")
    }

    // MARK: results and findings

    @Test func theOldSystemsExample() {
        let r = detector.scan("my secret email is test@mail.com and my card is 1234567890123456")
        #expect(r.alerts.sorted.map(\.rawValue) == ["card_number_detected", "email_detected", "personal_data"])
        #expect(r.findings.map(\.masked) == ["s*****", "t***@mail.com", "************3456"])
        #expect(r.findings.map(\.offset) == [3, 19, 48])
        #expect(r.findings.map(\.length) == [6, 13, 16])
        #expect(r.findings.last?.luhnValid == false)
    }

    @Test func emptyAndWhitespaceMessagesYieldNothing() {
        for text in ["", " ", "\n\t  \r\n", "\u{3000}"] {
            #expect(detector.scan(text).alerts.isEmpty)
            #expect(detector.scan(text).findings.isEmpty)
        }
    }

    @Test func codesAreSortedAndUnique() {
        let r = detector.scan("fake password scam 1234567890 secret a@b.com c@d.org")
        #expect(
            r.alerts.sorted.map(\.rawValue) == [
                "card_number_detected", "email_detected", "fraud_attempt", "personal_data",
            ])
        #expect(r.findings.count == 7)
    }

    @Test func cardFindingsKeepSeparatorsAndCheckLuhn() {
        let r = detector.scan("pay 4111 1111 1111 1111 now")
        #expect(r.findings.first?.masked == "**** **** **** 1111")
        #expect(r.findings.first?.luhnValid == true)
        #expect(r.findings.first?.offset == 4)
        #expect(r.findings.first?.length == 19)
    }

    /// The card finding's Luhn flag against the textbook check, on numbers of every card length,
    /// with and without separators (the detector's check works without branches on the digits).
    @Test func luhnFlagAgreesWithTheTextbookCheck() {
        func textbook(_ digits: [Int]) -> Bool {
            var sum = 0
            for (k, d) in digits.reversed().enumerated() { sum += k % 2 == 1 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d }
            return sum % 10 == 0
        }
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        var valid = 0
        for round in 0..<3_000 {
            let digits = (0..<(13 + next(7))).map { _ in next(10) }
            let separator = ["", " ", "-"][round % 3]
            var number = ""
            for (k, d) in digits.enumerated() {
                if k > 0 && k % 4 == 0 { number += separator }
                number += String(d)
            }
            let r = detector.scan("pay \(number) now")
            let expected = textbook(digits)
            if expected { valid += 1 }
            #expect(r.findings.first?.luhnValid == expected, "\(number)")
        }
        #expect(valid > 150)  // about one number in ten passes: both answers were checked
    }

    @Test func offsetsCountUnicodeScalars() {
        let r = detector.scan("пароль: 🔑password")
        #expect(r.findings.first?.offset == 9)  // 6 Cyrillic + ':' + ' ' + key emoji
        #expect(r.findings.first?.byteOffset == 12 + 2 + 4)
        #expect(r.findings.first?.masked == "p*******")
    }

    @Test func excerptsAreMaskedAndCutWhateverTheirLength() {
        let e = detector.scan("mail john.doe@example.com now")
        #expect(e.findings.map(\.masked) == ["j***@example.com"])
        let longDomain = String(repeating: "d", count: 100) + ".com"
        let l = detector.scan("x@" + longDomain)
        let masked = l.findings.first?.masked ?? ""
        #expect(masked.hasPrefix("x***@…") && masked.hasSuffix("ddd.com"))
        #expect(masked.utf8.count == 5 + "…".utf8.count + 63)
        let run = String(repeating: "1234 ", count: 30) + "9876"
        let c = detector.scan(run)
        let card = c.findings.first?.masked ?? ""
        #expect(card.hasPrefix("…") && card.hasSuffix("**** 9876") && !card.contains("123"))
        #expect(card.utf8.count == "…".utf8.count + 63)
        #expect(detector.scan("Password").findings.first?.masked == "P*******")
        #expect(detector.scan("credentials").findings.first?.masked == "c**********", "11 bytes: kept inline")
        // A rules file may list non-ASCII keywords: the first scalar stays whole, one star per scalar after.
        let custom = Detector(
            rules: Rules(keywords: [.personalData: ["пароль"]]))
        #expect(custom.scan("мой пароль").findings.first?.masked == "п*****")
        let accented = Detector(
            rules: Rules(keywords: [.personalData: ["naïve"]]))
        #expect(accented.scan("so naïve").findings.first?.masked == "n****", "one star per scalar, not per byte")
    }

    /// A keyword that begins with a non-ASCII byte: the fast loop may not skip such bytes.
    @Test func nonASCIIKeywordsAreFoundAtEveryOffsetAndOnlyAsWholeWords() {
        let custom = Detector(
            rules: Rules(keywords: [.personalData: ["пароль", "日本"]]))
        for count in 0..<20 {
            let pad = String(repeating: "слово ", count: count)
            #expect(custom.scan(pad + "мой пароль: 1").alerts.contains(.personalData), "\(count)")
            #expect(custom.scan(pad + "ПАРОЛЬ и пароль").findings.count == 1, "ASCII case folding only")
            #expect(!custom.scan(pad + "мойпароль паролька").alerts.contains(.personalData), "\(count)")
            #expect(custom.scan(pad + "😀日本😀").alerts.contains(.personalData), "\(count)")
            #expect(!custom.scan(pad + "日本語").alerts.contains(.personalData), "\(count)")
        }
    }

    @Test func customKeywordsOfOneOrTwoLettersAreFoundAndTheirLookalikesAreNot() {
        let custom = Detector(
            rules: Rules(keywords: [.fraudAttempt: ["x", "Zq"]], patterns: []))
        for text in ["x", "a x b", "X!", "zq", "ZQ", "say zQ.", String(repeating: "lorem ", count: 3) + "x"] {
            #expect(custom.scan(text).alerts.contains(.fraudAttempt), "\(text)")
        }
        for text in ["xy", "ax", "zqz", "zz", "q z", "", String(repeating: "lorem ", count: 3) + "xx"] {
            #expect(!custom.scan(text).alerts.contains(.fraudAttempt), "\(text)")
        }
    }

    @Test func findingsAreCappedButAlertsAreComplete() {
        let text = String(repeating: "password ", count: 50) + "a@b.com"
        let r = detector.scan(text, maxFindings: 10)
        #expect(r.findings.count == 10)
        #expect(r.findingsTruncated)
        #expect(r.alerts.contains(.emailDetected))
    }

    @Test func noRawValueInAnyExcerpt() {
        let r = detector.scan("secret credentials: hunter2@mail.example.com 4111111111111111 password")
        for f in r.findings {
            #expect(!f.masked.contains("hunter2"))
            #expect(!f.masked.contains("4111111111"))
            #expect(!f.masked.contains("password") && !f.masked.contains("secret"))
        }
    }

    // MARK: hostile inputs (correctness here; speed is measured in bench/)

    @Test func hostileMegabyteInputs() {
        let mib = 1 << 20
        #expect(detector.scan(String(repeating: "a", count: mib)).alerts.isEmpty)
        let digits = detector.scan(String(repeating: "7", count: mib))
        #expect(digits.alerts.sorted == [.cardNumberDetected])
        #expect(digits.findings.first?.length == mib)
        #expect(digits.findings.first!.masked.count <= 64)
        #expect(detector.scan(String(repeating: "@", count: mib)).alerts.isEmpty)
        #expect(detector.scan(String(repeating: "a@", count: mib / 2)).alerts.isEmpty)
        #expect(detector.scan(String(repeating: "a.", count: mib / 2) + "@x").alerts.isEmpty)
        #expect(detector.scan(String(repeating: "x ", count: mib / 2) + "password").alerts.sorted == [.personalData])
        #expect(detector.scan("a@" + String(repeating: "b.", count: mib / 2) + "cc").alerts.sorted == [.emailDetected])
        #expect(detector.scan(String(repeating: "1 ", count: mib / 2)).alerts.sorted == [.cardNumberDetected])
    }
}
