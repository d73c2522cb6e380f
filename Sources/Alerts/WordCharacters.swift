// WordCharacters: the contract's word characters, as lookup tables built once from Unicode data.

/// A word character is `_` or a scalar whose General_Category is a letter (Lu Ll Lt Lm Lo), a mark
/// (Mn Mc Me) or a decimal digit (Nd). Everything else separates words.
enum WordCharacters {
    static func isWord(_ s: Unicode.Scalar) -> Bool {
        if s == "_" { return true }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// One bit per BMP scalar (8 KiB): the scan looks up every non-ASCII scalar here, not in the
    /// Unicode tables, which keeps Cyrillic or CJK text close to ASCII speed.
    static let bmp: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 65536 / 64)
        for v in 0..<65536 {
            if let s = Unicode.Scalar(UInt32(v)), isWord(s) { bits[v >> 6] |= 1 << UInt64(v & 63) }
        }
        return bits
    }()

    @inline(__always)
    static func isWord(scalar v: UInt32, table: UnsafePointer<UInt64>) -> Bool {
        if v < 65536 { return table[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
        return Unicode.Scalar(v).map(isWord) ?? false
    }
}
