// TaskIDGenerator: random (version 4) UUIDs for task ids, from a buffer of kernel randomness.

import MeshLoop

/// Makes task ids: RFC 9562 version 4 UUIDs in lower case (`3f2b…-4…-[89ab]…`).
///
/// Foundation's `UUID()` opens, reads and closes `/dev/urandom` for every id — three system calls
/// per submit, more than the rest of a submit's own work. This takes 4 KiB
/// at a time from `getrandom(2)` (`uv_random`: the same kernel CSPRNG) and spends 16 bytes per id, so one
/// system call serves 256 submits. Not thread-safe: one per event loop.
public final class TaskIDGenerator {
    private var pool = [UInt8](repeating: 0, count: 4096)
    private var next = 4096

    public init() {}

    /// A new id, 36 characters.
    public func make() -> String {
        if next + 16 > pool.count { refill() }
        let start = next
        next += 16
        return pool.withUnsafeBufferPointer { random in
            String(unsafeUninitializedCapacity: 36) { out in
                let hex: StaticString = "0123456789abcdef"
                let digits = hex.utf8Start
                var o = 0
                for i in 0..<16 {
                    var byte = random[start + i]
                    if i == 6 { byte = byte & 0x0F | 0x40 }  // version 4
                    if i == 8 { byte = byte & 0x3F | 0x80 }  // variant 10
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        out[o] = UInt8(ascii: "-")
                        o += 1
                    }
                    out[o] = digits[Int(byte >> 4)]
                    out[o + 1] = digits[Int(byte & 0x0F)]
                    o += 2
                }
                return o
            }
        }
    }

    private func refill() {
        let filled = pool.withUnsafeMutableBytes { buffer in (try? EventLoop.randomBytes(buffer)) != nil }
        if !filled {
            // getrandom does not fail on Linux once the kernel's pool is initialised; should it,
            // use the standard library's generator rather than hand out predictable ids.
            var g = SystemRandomNumberGenerator()
            for i in pool.indices { pool[i] = UInt8.random(in: 0...255, using: &g) }
        }
        next = 0
    }
}
