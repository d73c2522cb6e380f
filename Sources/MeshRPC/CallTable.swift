// CallTable: the calls in flight on one connection, by request id — an open-addressing hash table.

/// A map from request id to call, for the two or three lookups every call makes.
///
/// Why not `Dictionary`: its SipHash of a `UInt32` key costs more than the rest of a lookup, and
/// it ran three times per call on each side — a tenth of an empty call's instructions. Here a key
/// is hashed with one multiply by a random odd number chosen per table (so a peer that picks its
/// request ids cannot aim them at one bucket), slots are probed linearly, and a removal shifts the
/// following entries back (no tombstones: a table that sees millions of calls never degrades).
struct CallTable<Call: AnyObject> {
    private var keys: [UInt32]
    private var calls: [Call?]
    private var mask: Int
    private let multiplier: UInt32
    private(set) var count = 0

    init() {
        keys = [UInt32](repeating: 0, count: 16)
        calls = [Call?](repeating: nil, count: 16)
        mask = 15
        multiplier = UInt32.random(in: 0...UInt32.max) | 1
    }

    var isEmpty: Bool { count == 0 }

    /// The calls, in no particular order.
    var values: [Call] { calls.compactMap { $0 } }

    private func home(_ key: UInt32) -> Int { Int(truncatingIfNeeded: (key &* multiplier) >> 16) & mask }

    /// The slot holding `key`, or nil.
    private func find(_ key: UInt32) -> Int? {
        var i = home(key)
        while calls[i] != nil {
            if keys[i] == key { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    subscript(key: UInt32) -> Call? { find(key).flatMap { calls[$0] } }

    /// Adds `call` under `key` unless the key is taken; returns the call already there, if any.
    mutating func insert(_ call: Call, for key: UInt32) -> Call? {
        if (count + 1) * 4 > (mask + 1) * 3 { grow() }
        var i = home(key)
        while let existing = calls[i] {
            if keys[i] == key { return existing }
            i = (i + 1) & mask
        }
        keys[i] = key
        calls[i] = call
        count += 1
        return nil
    }

    @discardableResult
    mutating func removeValue(forKey key: UInt32) -> Call? {
        guard var hole = find(key) else { return nil }
        let removed = calls[hole]
        calls[hole] = nil
        count -= 1
        // Backward shift: move later entries of the run into the hole when their home allows it,
        // so every lookup can still stop at the first empty slot.
        var i = (hole + 1) & mask
        while calls[i] != nil {
            let h = home(keys[i])
            // Entry i may move to `hole` if its home is not in the cyclic range (hole, i].
            let movable = hole <= i ? (h <= hole || h > i) : (h <= hole && h > i)
            if movable {
                keys[hole] = keys[i]
                calls[hole] = calls[i]
                calls[i] = nil
                hole = i
            }
            i = (i + 1) & mask
        }
        return removed
    }

    mutating func removeAll() {
        count = 0
        if mask > 1_023 {  // give back what a burst grew
            keys = [UInt32](repeating: 0, count: 16)
            calls = [Call?](repeating: nil, count: 16)
            mask = 15
        } else {
            for i in calls.indices { calls[i] = nil }
        }
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldCalls = calls
        let capacity = (mask + 1) * 2
        keys = [UInt32](repeating: 0, count: capacity)
        calls = [Call?](repeating: nil, count: capacity)
        mask = capacity - 1
        count = 0
        for (key, call) in zip(oldKeys, oldCalls) {
            if let call { _ = insert(call, for: key) }
        }
    }
}
