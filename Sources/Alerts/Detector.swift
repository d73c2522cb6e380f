// Detector: all nine detectors in one linear pass over a message's UTF-8 bytes.

/// Compiled rules, ready to scan messages. Immutable and `Sendable`: build it once, share it.
///
/// One pass over the bytes finds words (keywords are matched by a trie automaton fed the word's
/// bytes, accepting only at a word's end), digit runs (tracked lazily: a digit continues the run
/// only if it directly follows the last digit or one separator after it) and e-mail addresses
/// (checked only at an `@`: the local part backwards to the previous non-local byte, the domain
/// forwards to the next non-domain byte, so no byte is looked at more than a few times). There is no
/// backtracking: hostile input costs what ordinary text costs.
///
/// The v2 detectors (docs/detection.md, normative rules in detectors-v2) hang off the same pass at
/// the places where their matches must begin, each looking at a bounded span or at a maximal run
/// that no other look at the same code overlaps: IBANs and phone numbers at the first digit of a
/// digit run (two letters, or a `+`, before it), API keys, JWTs and private-key headers at word
/// starts whose first two bytes can begin a token prefix — added to the keyword pair filter, so the
/// fast loops stop at `ghp_` or `eyJ` and at nothing else new.
///
/// Most bytes cannot start anything, so the scan passes over them eight (or, in non-ASCII text,
/// sixteen) at a time with word-wide bit tricks (SWAR) and stops only at ASCII digits, '@' and word
/// starts that may begin a keyword. Word state is not tracked through skipped bytes: whether a
/// candidate keyword follows a word character is decided by decoding the one scalar before it.
///
/// ```swift
/// let detector = Detector(rules: .default)
/// let result = detector.scan("my secret is hunter2")   // alerts: [personal_data]
/// ```
public final class Detector: @unchecked Sendable {
    public let rules: Rules
    // The tables are written once in init and only read afterwards, from any thread: that is why
    // the class is `@unchecked Sendable`. They are raw memory so a scan touches no reference counts.
    /// Keyword automaton: `transitions[state << 8 | byte]`; state 0 is dead, 1 the root.
    private let transitions: UnsafeMutableBufferPointer<Int32>
    /// Alert bits accepted at each state (at a word's end).
    private let accepting: UnsafeMutableBufferPointer<UInt8>
    private let classes: UnsafeMutableBufferPointer<UInt8>
    private let wordTable: UnsafeMutableBufferPointer<UInt64>
    /// Bit `b1 << 8 | b0` (either ASCII case): a keyword can begin with the bytes `b0 b1`. Lets the
    /// fast loops pass over words that start like a keyword but cannot be one (`send`, `please`,
    /// `call`: most English words starting with p, s, c or f). The order is that of a little-endian
    /// two-byte load, so the SWAR loop looks a pair up with one load.
    private let pairs: UnsafeMutableBufferPointer<UInt64>
    /// Whether some keyword begins with a non-ASCII byte: then the fast loop cannot skip such bytes.
    private let asciiStartsOnly: Bool
    /// The pattern detectors that run, as `AlertCode.bit`s.
    private let patternBits: UInt16
    /// No keyword starts with a digit: the groups of a card-like run can be passed over in one go.
    private let joinGroups: Bool

    static let word: UInt8 = 1, digit: UInt8 = 2, separator: UInt8 = 4, at: UInt8 = 8, local: UInt8 = 16,
        domain: UInt8 = 32, token: UInt8 = 64, initial: UInt8 = 128

    public init(rules: Rules = .default) {
        self.rules = rules
        var trans = [Int32](repeating: 0, count: 2 * 256)
        var accept: [UInt8] = [0, 0]
        for (code, words) in rules.keywords {
            for w in words {
                var state: Int32 = 1
                for b in w.utf8 {
                    let folded = Detector.foldASCII(b)
                    var next = trans[Int(state) << 8 | Int(folded)]
                    if next == 0 {
                        next = Int32(accept.count)
                        accept.append(0)
                        trans.append(contentsOf: repeatElement(0, count: 256))
                        trans[Int(state) << 8 | Int(folded)] = next
                        if folded != b { trans[Int(state) << 8 | Int(b)] = next }
                    }
                    // Both ASCII cases lead to the same state.
                    if folded >= 0x61 && folded <= 0x7A { trans[Int(state) << 8 | Int(folded - 0x20)] = next }
                    state = next
                }
                accept[Int(state)] |= code.keywordBit
            }
        }
        transitions = Detector.copy(trans)
        accepting = Detector.copy(accept)
        var cls = [UInt8](repeating: 0, count: 128)
        let tokenPairs = Tokens.pairs(for: rules.patterns)
        for b in 0..<128 {
            let c = UInt8(b)
            let isAlpha = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            let isDigit = c >= 0x30 && c <= 0x39
            var k: UInt8 = 0
            if isAlpha || isDigit || c == 0x5F { k |= Detector.word }
            if isDigit { k |= Detector.digit }
            if c == 0x20 || c == 0x2D { k |= Detector.separator }
            if c == 0x40 { k |= Detector.at }
            if isAlpha || isDigit || c == 0x2E || c == 0x5F || c == 0x25 || c == 0x2B || c == 0x2D {
                k |= Detector.local
            }
            if isAlpha || isDigit || c == 0x2D { k |= Detector.domain }
            if trans[1 << 8 | b] != 0 { k |= Detector.initial }  // a keyword can start with this byte
            // A token (API key, JWT header, PEM label) can start with this byte.
            if tokenPairs.contains(where: { $0.0 == c }) { k |= Detector.token | Detector.initial }
            cls[b] = k
        }
        classes = Detector.copy(cls)
        wordTable = Detector.copy(WordCharacters.bmp)
        var pairBits = [UInt64](repeating: 0, count: 65536 / 64)
        // Both ASCII cases of each byte, so a scan indexes the table with the raw bytes.
        func cases(_ b: UInt8) -> [UInt8] {
            let f = Detector.foldASCII(b)
            return f >= 0x61 && f <= 0x7A ? [f, f - 0x20] : [b]
        }
        for words in rules.keywords.values {
            for w in words {
                let u = Array(w.utf8)
                guard let first = u.first else { continue }
                // A one-byte keyword is followed by anything (a word's end).
                let seconds: [UInt8] = u.count >= 2 ? cases(u[1]) : Array(0...255)
                for b0 in cases(first) {
                    for b1 in seconds {
                        let bit = Scan.pairIndex(b0, b1)
                        pairBits[bit >> 6] |= 1 << UInt64(bit & 63)
                    }
                }
            }
        }
        for (b0, b1) in tokenPairs {
            let bit = Scan.pairIndex(b0, b1)
            pairBits[bit >> 6] |= 1 << UInt64(bit & 63)
        }
        pairs = Detector.copy(pairBits)
        asciiStartsOnly = !(0x80..<0x100).contains { trans[1 << 8 | $0] != 0 }
        patternBits = rules.patterns.reduce(0) { $0 | $1.bit }
        joinGroups = (0x30...0x39).allSatisfy { trans[1 << 8 | $0] == 0 }
    }

    deinit {
        transitions.deallocate()
        accepting.deallocate()
        classes.deallocate()
        wordTable.deallocate()
        pairs.deallocate()
    }

    private static func copy<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
        let b = UnsafeMutableBufferPointer<T>.allocate(capacity: array.count)
        _ = b.initialize(from: array)
        return b
    }

    @inline(__always)
    static func foldASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// Scans `text`.
    public func scan(_ text: String, maxFindings: Int = 1_000) -> ScanResult {
        var copy = text
        return copy.withUTF8 { scan(UnsafeRawBufferPointer($0), maxFindings: maxFindings) }
    }

    /// Scans UTF-8 bytes (which must be valid UTF-8, as any Swift string or decoded proto string is).
    public func scan(_ bytes: UnsafeRawBufferPointer, maxFindings: Int = 1_000) -> ScanResult {
        guard !bytes.isEmpty else { return ScanResult() }
        var scan = Scan(
            bytes: bytes, maxFindings: maxFindings, patterns: patternBits, cls: classes.baseAddress!,
            bmp: wordTable.baseAddress!)
        scan.run(
            trans: transitions.baseAddress!, accept: accepting.baseAddress!, cls: classes.baseAddress!,
            bmp: wordTable.baseAddress!, pairs: pairs.baseAddress!, asciiStartsOnly: asciiStartsOnly,
            joinGroups: joinGroups)
        scan.assignScalarOffsets()
        return scan.result
    }
}

/// The state of one scan.
struct Scan {
    let p: UnsafePointer<UInt8>
    let n: Int
    let maxFindings: Int
    let emailEnabled: Bool
    let cardEnabled: Bool
    /// The enabled pattern codes' bits; `digitStarts`: IBAN or phone, which look at digit-run starts.
    let patterns: UInt16
    let digitStarts: Bool
    var result = ScanResult()

    // digit runs
    var runStart = 0
    var runDigits = 0
    var lastDigitEnd = -2
    var separatorPending = false
    // e-mail
    var emailResume = 0
    /// Whether any byte ≥ 0x80 was seen: if not, scalar offsets equal byte offsets.
    var sawNonASCII = false

    /// The byte classes and the BMP word bits, for the v2 detectors' boundary checks.
    let cls: UnsafePointer<UInt8>
    let bmp: UnsafePointer<UInt64>

    init(
        bytes: UnsafeRawBufferPointer, maxFindings: Int, patterns: UInt16, cls: UnsafePointer<UInt8>,
        bmp: UnsafePointer<UInt64>
    ) {
        self.cls = cls
        self.bmp = bmp
        p = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        n = bytes.count
        self.maxFindings = maxFindings
        self.patterns = patterns
        emailEnabled = patterns & AlertCode.emailDetected.bit != 0
        cardEnabled = patterns & AlertCode.cardNumberDetected.bit != 0
        digitStarts = patterns & (AlertCode.ibanDetected.bit | AlertCode.phoneDetected.bit) != 0
    }

    mutating func run(
        trans: UnsafePointer<Int32>, accept: UnsafePointer<UInt8>, cls: UnsafePointer<UInt8>,
        bmp: UnsafePointer<UInt64>, pairs: UnsafePointer<UInt64>, asciiStartsOnly: Bool, joinGroups: Bool
    ) {
        // The word state lives in locals so the hot loop keeps it in registers; matches, digits and
        // '@' are rare and handled out of line.
        var inWord = false
        var wordStart = 0
        var kw = 0
        var i = 0
        var high: UInt64 = 0
        var swarAfter = 0
        defer { if high != 0 { sawNonASCII = true } }
        let p = self.p
        let n = self.n
        let wordBit = Detector.word, digitBit = Detector.digit, separatorBit = Detector.separator, atBit = Detector.at
        let initialBit = Detector.initial, localBit = Detector.local, domainBit = Detector.domain
        let tokenBit = Detector.token
        while i < n {
            if kw == 0 && i >= swarAfter && i + 8 <= n {
                // Eight bytes at a time (SWAR): with no ASCII digit or '@' among them, only a word that
                // could begin a keyword needs the byte loop; everything before it is skipped. Non-ASCII
                // bytes are skipped too (unless a keyword can begin with one): they only matter as the
                // scalar before a candidate keyword, decoded backwards when there is one.
                let start = i
                while i + 8 <= n {
                    // Sixteen bytes at a time while they hold nothing but non-ASCII bytes and ASCII
                    // below '0' (spaces, most punctuation): Cyrillic or CJK text between its rare ASCII
                    // words. Only tried once the message has shown a non-ASCII byte.
                    if high != 0 && i + 16 <= n {
                        let x0 = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                        let x1 = UnsafeRawPointer(p + i + 8).loadUnaligned(as: UInt64.self)
                        if Scan.belowDigits(x0) & Scan.belowDigits(x1) != 0 {
                            i += 16
                            continue
                        }
                    }
                    let stop = Scan.skippable(
                        p, at: i, n: n, cls: cls, bmp: bmp, pairs: pairs, skipNonASCII: asciiStartsOnly,
                        high: &high)
                    i += stop
                    if stop < 8 {
                        // A digit or '@' in these eight bytes: the byte loop takes them all, or '@@@@…'
                        // would pay for a failed attempt at every byte.
                        if stop == 0 { swarAfter = i + 8 }
                        break
                    }
                }
                if i != start {
                    if i >= n { break }
                    while p[i] & 0xC0 == 0x80 { i -= 1 }  // back to the first byte of a split scalar
                    inWord = Scan.wordBefore(p, i, cls: cls, bmp: bmp)
                    kw = 0
                }
            }
            if kw == 0 {
                // No keyword can be under way: run through bytes that cannot start anything — letters
                // of rejected words, spaces, punctuation, 2-byte scalars — tracking only whether we
                // are inside a word. Digits, '@', a possible keyword start, a separator right after a
                // digit and longer scalars go to the byte loop below.
                while i < n {
                    let b = p[i]
                    if b < 0x80 {
                        let c = cls[Int(b)]
                        if c & (digitBit | atBit) != 0 {
                            // An '@' after a byte that cannot end a local part only ends a word.
                            guard c & atBit != 0, i > 0, p[i - 1] >= 0x80 || cls[Int(p[i - 1])] & localBit == 0
                            else { break }
                            inWord = false
                            i += 1
                            continue
                        }
                        if c & wordBit != 0 {
                            if !inWord && c & initialBit != 0
                                && (i + 1 >= n || Scan.mayStartKeyword(b, p[i + 1], pairs))
                            {
                                break
                            }
                            inWord = true
                        } else {
                            if i == lastDigitEnd && c & separatorBit != 0 { break }  // a card run may go on
                            inWord = false
                        }
                        i += 1
                    } else if b >= 0xC2 && b < 0xE0 && i + 1 < n {
                        if !inWord && trans[1 << 8 | Int(b)] != 0 { break }  // a non-ASCII keyword may start
                        let v = UInt32(b & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F)
                        inWord = bmp[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0
                        sawNonASCII = true
                        i += 2
                    } else {
                        break
                    }
                }
                if i >= n { break }
            }
            let b = p[i]
            if b < 0x80 {
                let c = cls[Int(b)]
                if c & wordBit != 0 {
                    if !inWord {
                        inWord = true
                        wordStart = i
                        kw = 1
                        if c & tokenBit != 0 && i + 1 < n { token(at: i) }
                    }
                    // Most words leave the automaton within a byte or two; after that only the
                    // word's end matters, so the dependent table load is skipped.
                    if kw != 0 { kw = Int(trans[kw << 8 | Int(b)]) }
                    if c & digitBit != 0 {
                        digit(at: i)
                        if kw == 0 {
                            // The rest of a digit run in one go (a hostile all-digits message stays fast),
                            // and its further groups after one space or hyphen, unless a keyword could
                            // start at their first digit: nothing else starts inside a card-like run.
                            var j = i + 1
                            var digits = 0
                            while true {
                                let from = j
                                while j + 8 <= n
                                    && Scan.allDigits(UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self))
                                {
                                    j += 8
                                }
                                while j < n && p[j] &- 0x30 < 10 { j += 1 }
                                digits += j - from
                                guard joinGroups, j + 1 < n, p[j] == 0x20 || p[j] == 0x2D, p[j + 1] &- 0x30 < 10
                                else { break }
                                j += 1
                            }
                            if j > i + 1 {
                                runDigits += digits
                                lastDigitEnd = j
                                i = j - 1
                            }
                        }
                    }
                } else {
                    if inWord {
                        inWord = false
                        if accept[kw] != 0 { keyword(bits: accept[kw], start: wordStart, end: i) }
                    }
                    if c & separatorBit != 0 {
                        if i == lastDigitEnd { separatorPending = true }
                    } else if c & atBit != 0 {
                        // Only an '@' right after a local-part byte, and before a label and a '.',
                        // can start an address ('a@a@a@…' is turned away here, without a call).
                        if i > emailResume && p[i - 1] < 0x80 && cls[Int(p[i - 1])] & localBit != 0 {
                            var k = i + 1
                            while k < n && p[k] < 0x80 && cls[Int(p[k])] & domainBit != 0 { k += 1 }
                            if k > i + 1 && k < n && p[k] == 0x2E { email(at: i, firstDot: k, cls: cls) }
                        }
                    }
                }
                i += 1
                continue
            }
            // A multi-byte scalar: decode it and classify it from the table.
            let len: Int
            var v: UInt32
            if b < 0xE0 {
                len = 2
                v = UInt32(b & 0x1F) << 6 | UInt32(p[min(i + 1, n - 1)] & 0x3F)
            } else if b < 0xF0 {
                len = 3
                v = UInt32(b & 0x0F)
                for k in 1..<3 { v = v << 6 | UInt32(p[min(i + k, n - 1)] & 0x3F) }
            } else {
                len = 4
                v = UInt32(b & 0x07)
                for k in 1..<4 { v = v << 6 | UInt32(p[min(i + k, n - 1)] & 0x3F) }
            }
            let end = min(i + len, n)
            if WordCharacters.isWord(scalar: v, table: bmp) {
                if !inWord {
                    inWord = true
                    wordStart = i
                    kw = 1
                }
                var k = i
                while kw != 0 && k < end {
                    kw = Int(trans[kw << 8 | Int(p[k])])
                    k += 1
                }
            } else if inWord {
                inWord = false
                if accept[kw] != 0 { keyword(bits: accept[kw], start: wordStart, end: i) }
            }
            sawNonASCII = true
            i = end
        }
        if inWord && accept[kw] != 0 { keyword(bits: accept[kw], start: wordStart, end: n) }
        endDigitRun()
    }

    /// How many of the 8 bytes at `i` the byte loop may skip: 0 when they hold an ASCII digit or '@'
    /// (or a non-ASCII byte, unless `skipNonASCII`); otherwise up to the first word start that can begin
    /// a keyword (8 if none). Bytes ≥ 0x80 are ORed into `high`.
    @inline(__always)
    static func skippable(
        _ p: UnsafePointer<UInt8>, at i: Int, n: Int, cls: UnsafePointer<UInt8>, bmp: UnsafePointer<UInt64>,
        pairs: UnsafePointer<UInt64>, skipNonASCII: Bool, high: inout UInt64
    ) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let top: UInt64 = 0x8080_8080_8080_8080
        let q = p + i
        let x = UnsafeRawPointer(q).loadUnaligned(as: UInt64.self)
        let nonASCII = x & top
        if nonASCII != 0 {
            guard skipNonASCII else { return 0 }
            high |= nonASCII
        }
        // Per-byte comparisons on the low seven bits (no carries between bytes), then kept for
        // ASCII bytes only.
        let y = x & ~top
        let ascii = ~x & top
        @inline(__always) func atLeast(_ v: UInt64, _ a: UInt64) -> UInt64 { (v &+ (0x80 - a) &* ones) & top }
        @inline(__always) func atMost(_ v: UInt64, _ z: UInt64) -> UInt64 { ~(v &+ (0x7F - z) &* ones) & top }
        let digit = atLeast(y, 0x30) & atMost(y, 0x39)
        let at = atLeast(y, 0x40) & atMost(y, 0x40)
        guard (digit | at) & ascii == 0 else { return 0 }
        let lower = y | (0x20 &* ones)
        let word = ((atLeast(lower, 0x61) & atMost(lower, 0x7A)) | (atLeast(y, 0x5F) & atMost(y, 0x5F))) & ascii
        let mask = ((word >> 7) &* 0x0102_0408_1020_4080) >> 56  // bit k: byte k is an ASCII word character
        let before: UInt64 = i > 0 && p[i - 1] < 0x80 && cls[Int(p[i - 1])] & Detector.word != 0 ? 1 : 0
        var starts = mask & ~((mask << 1) | before) & 0xFF
        guard starts != 0 else { return 8 }
        // The pair filter (it implies an initial byte) at all eight places at once, then a loop over
        // what passed — rare in prose: a loop over every word start, each with a branch on its own
        // lookup, mispredicted about once per eight bytes. The last byte of the text has no pair:
        // whether it can begin a keyword at all decides there.
        var candidates: UInt64 = 0
        for k in 0..<7 { candidates |= pairBit(at: q + k, pairs) << UInt64(k) }
        let last: UInt64 =
            i + 8 < n ? pairBit(at: q + 7, pairs) : (cls[Int(q[7])] & Detector.initial != 0 ? 1 : 0)
        candidates |= last << 7
        starts &= candidates
        while starts != 0 {
            let k = starts.trailingZeroBitCount
            // After a non-ASCII byte the word starts here only if that scalar separates words.
            if i + k == 0 || p[i + k - 1] < 0x80 || !scalarBeforeIsWord(p, i + k, bmp: bmp) { return k }
            starts &= starts - 1
        }
        return 8
    }

    /// Whether all eight bytes are ASCII digits: each has the high nibble 3, and still has it after
    /// adding 6 (0x39 + 6 = 0x3F; 0x3A… overflow into 0x4…, and only they can carry into the next byte).
    @inline(__always)
    static func allDigits(_ x: UInt64) -> Bool {
        let high: UInt64 = 0xF0F0_F0F0_F0F0_F0F0, threes: UInt64 = 0x3030_3030_3030_3030
        return x & high == threes && (x &+ 0x0606_0606_0606_0606) & high == threes
    }

    /// Nonzero when each of the eight bytes is non-ASCII or below `0` (0x30).
    @inline(__always)
    static func belowDigits(_ x: UInt64) -> UInt64 {
        let top: UInt64 = 0x8080_8080_8080_8080
        // Bit 7 of each byte of `(x & ~top) + 0x50…` is set for ASCII bytes ≥ 0x30 (and for non-ASCII
        // ones, which `~x` clears).
        let asciiAtLeast0 = ((x & ~top) &+ 0x5050_5050_5050_5050) & ~x & top
        return asciiAtLeast0 == 0 ? 1 : 0
    }

    /// Whether the scalar that ends just before byte `i` is a word character.
    @inline(__always)
    static func wordBefore(_ p: UnsafePointer<UInt8>, _ i: Int, cls: UnsafePointer<UInt8>, bmp: UnsafePointer<UInt64>)
        -> Bool
    {
        guard i > 0 else { return false }
        let b = p[i - 1]
        if b < 0x80 { return cls[Int(b)] & Detector.word != 0 }
        return scalarBeforeIsWord(p, i, bmp: bmp)
    }

    /// `wordBefore` for a non-ASCII scalar: finds its first byte (at most three bytes back) and decodes it.
    static func scalarBeforeIsWord(_ p: UnsafePointer<UInt8>, _ i: Int, bmp: UnsafePointer<UInt64>) -> Bool {
        var s = i - 1
        while s > 0 && i - s < 4 && p[s] & 0xC0 == 0x80 { s -= 1 }
        let lead = p[s]
        var v = UInt32(lead >= 0xF0 ? lead & 0x07 : lead >= 0xE0 ? lead & 0x0F : lead & 0x1F)
        for k in s + 1..<i { v = v << 6 | UInt32(p[k] & 0x3F) }
        return WordCharacters.isWord(scalar: v, table: bmp)
    }

    /// Whether a word beginning with bytes `b0 b1` can be a keyword (see `Detector.pairs`).
    @inline(__always)
    static func mayStartKeyword(_ b0: UInt8, _ b1: UInt8, _ pairs: UnsafePointer<UInt64>) -> Bool {
        let bit = pairIndex(b0, b1)
        return pairs[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }

    /// `mayStartKeyword` for the two bytes at `q`, as 0 or 1.
    @inline(__always)
    static func pairBit(at q: UnsafePointer<UInt8>, _ pairs: UnsafePointer<UInt64>) -> UInt64 {
        let bit = Int(UInt16(littleEndian: UnsafeRawPointer(q).loadUnaligned(as: UInt16.self)))
        return pairs[bit >> 6] >> UInt64(bit & 63) & 1
    }

    @inline(__always)
    static func pairIndex(_ b0: UInt8, _ b1: UInt8) -> Int { Int(b1) << 8 | Int(b0) }

    mutating func keyword(bits: UInt8, start: Int, end: Int) {
        if bits & AlertCode.personalData.keywordBit != 0 {
            result.alerts.insert(.personalData)
            add(.personalData, start: start, end: end) { Masking.keyword($0) }
        }
        if bits & AlertCode.fraudAttempt.keywordBit != 0 {
            result.alerts.insert(.fraudAttempt)
            add(.fraudAttempt, start: start, end: end) { Masking.keyword($0) }
        }
    }

    @inline(__always)
    mutating func digit(at i: Int) {
        if runDigits > 0 && (i == lastDigitEnd || (separatorPending && i == lastDigitEnd + 1)) {
            runDigits += 1
        } else {
            endDigitRun()
            runStart = i
            runDigits = 1
            // A phone run's first digit follows its '+'; an IBAN's check digits its country code.
            if digitStarts && i > 0 {
                let b = p[i - 1]
                // (A '+' glued to a word, as in `+1.2+1.2`, is turned away inline.)
                if b == 0x2B {
                    if i < 2 || p[i - 2] >= 0x80 || cls[Int(p[i - 2])] & Detector.word == 0 { digitRunStart(at: i) }
                } else if (b | 0x20) &- 0x61 < 26 {
                    digitRunStart(at: i)
                }
            }
        }
        lastDigitEnd = i + 1
        separatorPending = false
    }

    /// Inline: on digits broken by separators (`+1.2+1.2…`) a run ends every few bytes, nearly
    /// always too short to be a card — a call for that alone cost more than the check.
    @inline(__always)
    mutating func endDigitRun() {
        if runDigits >= 10 && cardEnabled { cardRun() }
        runDigits = 0
    }

    /// A run of card length ended: a card-like number.
    mutating func cardRun() {
        result.alerts.insert(.cardNumberDetected)
        let digits = runDigits
        add(.cardNumberDetected, start: runStart, end: lastDigitEnd, luhn: true) { Masking.card($0, digits: digits) }
    }

    /// At an `@`: a local part of ≥ 1 byte ends here and a domain `label(.label)*.alpha{2,}` follows.
    /// The caller has found the domain's first label, ending at the '.' at `firstDot`; the walk goes
    /// on from there.
    mutating func email(at i: Int, firstDot: Int, cls: UnsafePointer<UInt8>) {
        guard emailEnabled else { return }
        // The domain first: it decides (the caller saw a local-part byte before the '@'), and most
        // '@'s have none, so the local part is only walked back for an address.
        var k = firstDot
        var label = firstDot - i - 1
        var end = -1
        while k < n {
            let b = p[k]
            if b < 0x80 && cls[Int(b)] & Detector.domain != 0 {
                label += 1
                k += 1
            } else if b == 0x2E && label > 0 {
                var t = k + 1
                while t < n && (p[t] | 0x20) &- 0x61 < 26 { t += 1 }
                if t - k - 1 >= 2 { end = t }
                label = 0
                k += 1
            } else {
                break
            }
        }
        guard end > 0 else { return }
        var j = i
        while j > emailResume && p[j - 1] < 0x80 && cls[Int(p[j - 1])] & Detector.local != 0 { j -= 1 }
        guard j < i else { return }
        result.alerts.insert(.emailDetected)
        emailResume = end
        let local = UnsafeRawBufferPointer(start: p + j, count: i - j)
        let domain = UnsafeRawBufferPointer(start: p + i + 1, count: end - i - 1)
        add(.emailDetected, start: j, end: end) { _ in Masking.email(local: local, domain: domain) }
    }

    @inline(__always)
    mutating func add(
        _ code: AlertCode, start: Int, end: Int, luhn: Bool = false, mask: (UnsafeRawBufferPointer) -> String
    ) {
        guard result.findings.count < maxFindings else {
            result.findingsTruncated = true
            return
        }
        let bytes = UnsafeRawBufferPointer(start: p + start, count: end - start)
        // Room for a few at the first: a message with findings usually has two or three (an IBAN
        // is a card-like run too), and growing from one costs an allocation per doubling.
        if result.findings.isEmpty { result.findings.reserveCapacity(4) }
        result.findings.append(
            Finding(
                code: code, byteOffset: start, byteLength: end - start, masked: mask(bytes),
                luhnValid: luhn ? Masking.luhn(bytes) : nil))
    }

    /// Fills `offset`/`length` in Unicode scalars with one forward walk over the bytes.
    mutating func assignScalarOffsets() {
        guard !result.findings.isEmpty else { return }
        let inOrder = zip(result.findings, result.findings.dropFirst()).allSatisfy {
            ($0.byteOffset, $0.code) < ($1.byteOffset, $1.code)
        }
        if !inOrder { result.findings.sort { ($0.byteOffset, $0.code) < ($1.byteOffset, $1.code) } }
        if !sawNonASCII {
            for k in result.findings.indices {
                result.findings[k].offset = result.findings[k].byteOffset
                result.findings[k].length = result.findings[k].byteLength
            }
            return
        }
        // Positions to translate, ascending: every start and end.
        var marks: [(byte: Int, finding: Int, isEnd: Bool)] = []
        marks.reserveCapacity(result.findings.count * 2)
        for (index, f) in result.findings.enumerated() {
            marks.append((f.byteOffset, index, false))
            marks.append((f.byteOffset + f.byteLength, index, true))
        }
        marks.sort { $0.byte < $1.byte }
        var scalars = 0
        var at = 0
        for m in marks {
            while at < m.byte {
                if p[at] & 0xC0 != 0x80 { scalars += 1 }
                at += 1
            }
            if m.isEnd {
                result.findings[m.finding].length = scalars - result.findings[m.finding].offset
            } else {
                result.findings[m.finding].offset = scalars
            }
        }
    }
}
