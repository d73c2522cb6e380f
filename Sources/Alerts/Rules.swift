// Rules: which detectors run and which keywords they look for — data, with the defaults built in.

/// The detection rules. The defaults are the old system's contract; a rules file may change them.
///
/// Rules file format (UTF-8, one setting per line, `#` starts a comment):
///
/// ```
/// # keyword codes: the words that raise them (whole words, ASCII case ignored); "off" disables
/// personal_data = password secret credentials
/// fraud_attempt = fraud, scam, fake
/// # pattern detectors: on or off
/// email_detected = on
/// card_number_detected = on
/// ```
///
/// A code the file does not mention keeps its default. Keywords must consist of word characters
/// (letters, marks, decimal digits, `_`), since they are matched against whole words.
public struct Rules: Sendable, Hashable {
    public var keywords: [AlertCode: [String]]
    public var emailEnabled: Bool
    public var cardEnabled: Bool

    public static let `default` = Rules(
        keywords: [.personalData: ["password", "secret", "credentials"], .fraudAttempt: ["fraud", "scam", "fake"]],
        emailEnabled: true, cardEnabled: true)

    public init(keywords: [AlertCode: [String]], emailEnabled: Bool, cardEnabled: Bool) {
        self.keywords = keywords
        self.emailEnabled = emailEnabled
        self.cardEnabled = cardEnabled
    }

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var problem: String
        public var description: String { "line \(line): \(problem)" }
    }

    /// The longest keyword accepted, in UTF-8 bytes.
    public static let maxKeywordBytes = 64

    /// Parses a rules file; the first problem is thrown with its line number.
    public init(parsing text: String) throws(ParseError) {
        self = .default
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = content.trimmed
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw ParseError(line: line, problem: "expected \"code = value\", got \"\(trimmed)\"")
            }
            let name = trimmed[..<eq].trimmed
            let value = trimmed[trimmed.index(after: eq)...].trimmed
            guard let code = AlertCode(rawValue: String(name)) else {
                let known = AlertCode.allCases.map(\.rawValue).joined(separator: ", ")
                throw ParseError(line: line, problem: "unknown alert code \"\(name)\" (known: \(known))")
            }
            switch code {
            case .emailDetected, .cardNumberDetected:
                let on: Bool
                switch value.lowercased() {
                case "on", "true", "yes": on = true
                case "off", "false", "no": on = false
                default: throw ParseError(line: line, problem: "\(code) takes on or off, got \"\(value)\"")
                }
                if code == .emailDetected { emailEnabled = on } else { cardEnabled = on }
            case .personalData, .fraudAttempt:
                if value.lowercased() == "off" || value.isEmpty {
                    keywords[code] = []
                    continue
                }
                let words = value.split { $0 == " " || $0 == "," || $0 == "\t" }.map(String.init)
                for w in words {
                    guard w.utf8.count <= Rules.maxKeywordBytes else {
                        throw ParseError(
                            line: line,
                            problem: "keyword \"\(w.prefix(20))…\" is longer than \(Rules.maxKeywordBytes) bytes")
                    }
                    guard w.unicodeScalars.allSatisfy(WordCharacters.isWord) else {
                        throw ParseError(
                            line: line,
                            problem:
                                "keyword \"\(w)\" has a character that is not a letter, mark, digit or _; it could never match a whole word"
                        )
                    }
                }
                keywords[code] = words
            }
        }
    }
}

extension Substring {
    fileprivate var trimmed: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
