// AlertCode: the nine alert codes, a compatibility contract with clients of the old system (the
// first four) and with docs/detection.md (the five v2 detectors).

/// What a message can raise. The raw values are the wire names clients read.
public enum AlertCode: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case apiKeyDetected = "api_key_detected"
    case cardNumberDetected = "card_number_detected"
    case emailDetected = "email_detected"
    case fraudAttempt = "fraud_attempt"
    case ibanDetected = "iban_detected"
    case jwtDetected = "jwt_detected"
    case personalData = "personal_data"
    case phoneDetected = "phone_detected"
    case privateKeyDetected = "private_key_detected"

    public var description: String { rawValue }

    public static func < (a: AlertCode, b: AlertCode) -> Bool { a.rawValue < b.rawValue }

    /// The short name a rules file may use instead of the code (`iban = off`).
    public var shortName: String {
        switch self {
        case .apiKeyDetected: "api_key"
        case .cardNumberDetected: "card_number"
        case .emailDetected: "email"
        case .fraudAttempt: "fraud"
        case .ibanDetected: "iban"
        case .jwtDetected: "jwt"
        case .personalData: "personal"
        case .phoneDetected: "phone"
        case .privateKeyDetected: "private_key"
        }
    }

    /// One bit per code, in the order of the cases (which is the sorted order).
    var bit: UInt16 {
        switch self {
        case .apiKeyDetected: 1 << 0
        case .cardNumberDetected: 1 << 1
        case .emailDetected: 1 << 2
        case .fraudAttempt: 1 << 3
        case .ibanDetected: 1 << 4
        case .jwtDetected: 1 << 5
        case .personalData: 1 << 6
        case .phoneDetected: 1 << 7
        case .privateKeyDetected: 1 << 8
        }
    }

    /// The keyword codes' bits in the keyword automaton's one-byte accept table.
    var keywordBit: UInt8 { self == .personalData ? 1 : self == .fraudAttempt ? 2 : 0 }
}

/// A set of alert codes without allocation; `sorted` lists them in the contract's order.
public struct AlertSet: Sendable, Hashable {
    public private(set) var bits: UInt16 = 0

    public init() {}

    public init(_ codes: [AlertCode]) { for c in codes { insert(c) } }

    public mutating func insert(_ code: AlertCode) { bits |= code.bit }
    public func contains(_ code: AlertCode) -> Bool { bits & code.bit != 0 }
    public var isEmpty: Bool { bits == 0 }

    /// The codes that fired, sorted, each once.
    public var sorted: [AlertCode] { AlertCode.allCases.filter(contains) }
}
