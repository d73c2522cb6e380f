// MessageMix: seeded, realistic messages — chat-like text from tens of bytes to a few KiB, a share
// of them carrying something the detectors must find.

import Glibc

/// SplitMix64: small, fast, seedable; the same seed gives the same messages everywhere.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates the load test's messages.
///
/// A message is words drawn from a plain vocabulary (no keyword, no `@`, no digit runs) up to a
/// length drawn log-uniformly between `minBytes` and `maxBytes`; with probability `alertShare` one
/// to three snippets that must raise alerts are mixed in (a password, a secret, an e-mail address,
/// a card number, fraud wording).
public struct MessageMix: Sendable {
    public var alertShare: Double
    public var minBytes: Int
    public var maxBytes: Int
    private var rng: SeededGenerator

    static let words = [
        "hello", "there", "meeting", "tomorrow", "at", "noon", "please", "send", "the", "report", "thanks",
        "team", "lunch", "today", "schedule", "project", "update", "call", "me", "later", "sounds", "good",
        "weekend", "plans", "coffee", "office", "review", "document", "budget", "next", "week", "deadline",
        "great", "work", "everyone", "question", "about", "invoice", "delivery", "order", "status", "ok",
        "привет", "встреча", "завтра", "спасибо", "café", "naïve", "résumé", "🙂",
    ]
    static let snippets = [
        "my password is hunter2", "the secret code is ready", "credentials are in the vault",
        "mail me at jane.doe@example.com", "card 4111 1111 1111 1111 expires soon", "card 5500-0000-0000-0004",
        "this looks like a scam", "report the fraud today", "a fake invoice arrived", "Password: swordfish",
        "write to ops+alerts@mail.example.org", "number 1234567890123456 please",
        // The v2 detectors' findings.
        "pay to DE89 3704 0044 0532 0130 00 today", "call me on +44 20 7946 0958",
        "my token is ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ",
        "pasted -----BEGIN OPENSSH PRIVATE KEY----- by mistake",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz",
    ]

    public init(seed: UInt64, alertShare: Double = 0.25, minBytes: Int = 20, maxBytes: Int = 4096) {
        rng = SeededGenerator(seed: seed)
        self.alertShare = alertShare
        self.minBytes = max(1, minBytes)
        self.maxBytes = max(self.minBytes, maxBytes)
    }

    public mutating func next() -> String {
        let logMin = log(Double(minBytes))
        let logMax = log(Double(maxBytes))
        let target = Int(exp(Double.random(in: logMin...logMax, using: &rng)))
        var parts: [String] = []
        var size = -1  // n parts take n - 1 separators
        if Double.random(in: 0..<1, using: &rng) < alertShare {
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let s = MessageMix.snippets.randomElement(using: &rng)!
                parts.append(s)
                size += s.utf8.count + 1
            }
        }
        while size < target {
            let w = MessageMix.words.randomElement(using: &rng)!
            parts.insert(w, at: Int.random(in: 0...parts.count, using: &rng))
            size += w.utf8.count + 1
        }
        return parts.joined(separator: " ")
    }
}
