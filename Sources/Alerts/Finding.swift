// Finding: where a detector matched, and the masked excerpt that may be shown or stored.

/// One match. The excerpt is masked: the raw secret, card number or e-mail address never leaves
/// the detector.
public struct Finding: Sendable, Hashable {
    public var code: AlertCode
    /// Position in Unicode scalars (code points), as Python's `str` indexes a message.
    public var offset: Int
    public var length: Int
    /// Position in the message's UTF-8 bytes.
    public var byteOffset: Int
    public var byteLength: Int
    /// The masked excerpt: `p*******`, `j***@example.com`, `**** **** **** 3456`.
    public var masked: String
    /// For card numbers: whether the digits pass the Luhn check (it does not decide the alert).
    public var luhnValid: Bool?

    public init(
        code: AlertCode, offset: Int = 0, length: Int = 0, byteOffset: Int, byteLength: Int, masked: String,
        luhnValid: Bool? = nil
    ) {
        self.code = code
        self.offset = offset
        self.length = length
        self.byteOffset = byteOffset
        self.byteLength = byteLength
        self.masked = masked
        self.luhnValid = luhnValid
    }
}

/// What a scan found.
public struct ScanResult: Sendable, Hashable {
    public var alerts = AlertSet()
    public var findings: [Finding] = []
    /// More matches existed than `maxFindings`; the alerts are complete regardless.
    public var findingsTruncated = false

    public init() {}
}
