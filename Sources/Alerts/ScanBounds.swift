// ScanBounds: the v2 detectors' shared questions about the text around a candidate.

extension Scan {
    /// Whether the scalar that ends just before byte `i` is a word character (the start of the
    /// message counts as a non-word character).
    @inline(__always)
    func wordBefore(_ i: Int) -> Bool { Scan.wordBefore(p, i, cls: cls, bmp: bmp) }

    /// Whether the scalar that starts at byte `i` is a word character (the end counts as non-word).
    func wordAt(_ i: Int) -> Bool {
        guard i < n else { return false }
        let b = p[i]
        if b < 0x80 { return cls[Int(b)] & Detector.word != 0 }
        let len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
        var v = UInt32(b >= 0xF0 ? b & 0x07 : b >= 0xE0 ? b & 0x0F : b & 0x1F)
        for k in 1..<len { v = v << 6 | UInt32(p[min(i + k, n - 1)] & 0x3F) }
        return WordCharacters.isWord(scalar: v, table: bmp)
    }

    @inline(__always)
    func isDigit(_ i: Int) -> Bool { i < n && p[i] &- 0x30 < 10 }

    /// ASCII letter or digit (`_` is a word character but not ALNUM).
    @inline(__always)
    func isAlnum(_ i: Int) -> Bool { i < n && (p[i] &- 0x30 < 10 || (p[i] | 0x20) &- 0x61 < 26) }

    /// Whether the bytes at `i` are `literal`.
    @inline(__always)
    func matches(_ literal: StaticString, at i: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard i >= 0, i + count <= n else { return false }
        let l = literal.utf8Start
        for k in 0..<count where p[i + k] != l[k] { return false }
        return true
    }
}
