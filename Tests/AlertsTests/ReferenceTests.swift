// ReferenceTests: the engine must agree with a slow, obviously correct reference on random strings.

import Alerts
import Foundation
import Testing

/// The contract written as plainly as possible: regular expressions (on short strings only) and
/// a scalar-by-scalar word split. Positions are Unicode scalar offsets.
enum Reference {
    static let email = try! NSRegularExpression(
        pattern: "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}")
    static let digitRun = try! NSRegularExpression(pattern: "[0-9]+(?:[ -][0-9]+)*")

    static func isWord(_ s: Unicode.Scalar) -> Bool {
        if s == "_" { return true }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
            return true
        default: return false
        }
    }

    static func asciiLower(_ s: [Unicode.Scalar]) -> String {
        String(
            String.UnicodeScalarView(s.map { $0.value >= 65 && $0.value <= 90 ? Unicode.Scalar($0.value + 32)! : $0 }))
    }

    struct Match: Hashable, Comparable {
        var code: String
        var offset: Int
        var length: Int
        static func < (a: Match, b: Match) -> Bool { (a.offset, a.code) < (b.offset, b.code) }
    }

    static func matches(_ text: String) -> [Match] {
        var out: [Match] = []
        let scalars = Array(text.unicodeScalars)
        // Words.
        var i = 0
        while i < scalars.count {
            guard isWord(scalars[i]) else { i += 1; continue }
            var j = i
            while j < scalars.count && isWord(scalars[j]) { j += 1 }
            let w = asciiLower(Array(scalars[i..<j]))
            if ["password", "secret", "credentials"].contains(w) {
                out.append(Match(code: "personal_data", offset: i, length: j - i))
            }
            if ["fraud", "scam", "fake"].contains(w) {
                out.append(Match(code: "fraud_attempt", offset: i, length: j - i))
            }
            i = j
        }
        // UTF-16 offset → scalar offset.
        var scalarAt: [Int: Int] = [:]
        var u16 = 0
        for (k, s) in scalars.enumerated() {
            scalarAt[u16] = k
            u16 += s.utf16.count
        }
        scalarAt[u16] = scalars.count
        let ns = text as NSString
        for m in email.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let a = scalarAt[m.range.location]!, b = scalarAt[m.range.location + m.range.length]!
            out.append(Match(code: "email_detected", offset: a, length: b - a))
        }
        for m in digitRun.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let digits = ns.substring(with: m.range).filter(\.isASCII).filter(\.isNumber).count
            if digits >= 10 {
                let a = scalarAt[m.range.location]!, b = scalarAt[m.range.location + m.range.length]!
                out.append(Match(code: "card_number_detected", offset: a, length: b - a))
            }
        }
        return (out + v2Matches(scalars)).sorted()
    }
}

@Suite struct ReferenceTests {
    static let alphabet: [String] = [
        "a", "b", "Z", "x", "1", "2", "9", "0", " ", "-", "@", ".", "_", "%", "+", "é", "а", "日", "\u{0301}",
        "pass", "word", "Password", "secret", "FAKE", "scam", "fraud", "credentials", "com", "io", "x@y.", "12345",
        "67890", "s", "c", "f", "p", "S", "e", "r",
        "\u{200B}", "\t", "١",
    ]

    @Test func engineAgreesWithTheReferenceOnRandomStrings() {
        guard
            let seen = Reference.agreement(
                alphabet: Self.alphabet, seed: 0xA1E47, samples: 20_000, pieces: { Int($0.next() % 24) })
        else { return }
        // The alphabet must exercise every detector, or agreement proves little.
        for code in ["personal_data", "fraud_attempt", "email_detected", "card_number_detected"] {
            #expect(seen[code, default: 0] > 200, "only \(seen[code, default: 0]) \(code) matches in the sample")
        }
    }
}

extension ReferenceTests {
    /// Mostly non-ASCII text (the fast loop skips it eight or sixteen bytes at a time and decodes the
    /// scalar before a candidate keyword backwards), long enough to cross many chunks.
    static let nonASCIIAlphabet: [String] = [
        "ж", "привет ", "日本", "😀", "\u{200B}", "\u{00A0}", "\u{0301}", "é", "١", " ", ", ", "-", "@", ".", "_",
        "password", "Secret", "fake", "scam", "fraud", "pass", "x@y.ru", "a@b.", "1234", "5678 ", "90", "s", "p",
    ]

    @Test func engineAgreesWithTheReferenceOnLongNonASCIIStrings() {
        guard
            let seen = Reference.agreement(
                alphabet: Self.nonASCIIAlphabet, seed: 0x5EC7E7, samples: 5_000, pieces: { 8 + Int($0.next() % 72) })
        else { return }
        for code in ["personal_data", "fraud_attempt", "email_detected", "card_number_detected"] {
            #expect(seen[code, default: 0] > 100, "only \(seen[code, default: 0]) \(code) matches in the sample")
        }
    }

    /// A keyword right after every kind of scalar, at every offset modulo the chunks, with the
    /// scalar before it split across two chunks in some of them.
    @Test func keywordAfterEachScalarLengthAtEveryChunkOffset() {
        let detector = Detector()
        for pad in ["ж", "日", "😀", "\u{200B}", "\u{00A0}", "\u{0301}", " ", "a"] {
            for count in 0..<20 {
                for glue in ["ж", "日", "😀", "\u{200B}", "\u{00A0}", "é", "\u{0301}", " ", "-", "7", "@", ""] {
                    for needle in ["password", "Fake", "pa", "x@y.com", "4111 1111 11"] {
                        let text = String(repeating: pad, count: count) + glue + needle + glue
                        guard Reference.agrees(detector, on: text) else { return }
                    }
                }
            }
        }
    }

    /// Every pattern at every offset modulo the scanner's 8-byte chunks, after ASCII or Cyrillic text.
    @Test func matchesAtEveryChunkOffset() {
        let detector = Detector()
        let needles = [
            "password", "Secret", "fake", "a@b.com", "x.y@mail.example.org", "1234 5678 90", "555-123-4567",
            "scam!", "_fraud", "passwordы", "12345", "credentials",
            // Words that start like a keyword, or nearly (the two-byte filter's edges).
            "s", "sc", "SC", "se", "pa", "p", "f", "fr", "c", "cr", "sa", "send", "Scheme", "sECRET", "pAsSwOrD",
        ]
        for prefix in ["", "ab ", "hello world ", "привет ", "q", "9", "-", "@"] {
            for pad in 0..<17 {
                for needle in needles {
                    for suffix in ["", " ", "x", "0", ".", " tail text here"] {
                        let text = prefix + String(repeating: "z", count: pad) + " " + needle + suffix
                        guard Reference.agrees(detector, on: text) else { return }
                    }
                }
            }
        }
    }
}

extension Reference {
    /// Whether the engine finds what the reference finds in `text`; records the mismatch if not.
    static func agrees(_ detector: Detector, on text: String, sourceLocation: SourceLocation = #_sourceLocation)
        -> Bool
    {
        let got = detector.scan(text).findings.map {
            Match(code: $0.code.rawValue, offset: $0.offset, length: $0.length)
        }.sorted()
        let expected = matches(text)
        guard got == expected else {
            Issue.record(
                "mismatch on \(text.debugDescription): engine \(got), reference \(expected)",
                sourceLocation: sourceLocation)
            return false
        }
        return true
    }

    /// `samples` random strings of `pieces` pieces of `alphabet` each: how often each code matched,
    /// or nil after the first mismatch.
    static func agreement(
        alphabet: [String], seed: UInt64, samples: Int, pieces: (inout SplitMix64) -> Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [String: Int]? {
        var rng = SplitMix64(seed: seed)
        let detector = Detector()
        var seen: [String: Int] = [:]
        for _ in 0..<samples {
            let count = pieces(&rng)
            let text = (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
            guard agrees(detector, on: text, sourceLocation: sourceLocation) else { return nil }
            for m in matches(text) { seen[m.code, default: 0] += 1 }
        }
        return seen
    }
}

/// A small seedable generator, so a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
