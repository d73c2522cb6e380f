// CallTableTests: the calls-in-flight table agrees with a Dictionary through millions of random
// inserts and removals, including runs that wrap around the end and tables that grow.

import Testing

@testable import MeshRPC

private final class Box {
    let id: UInt32
    init(_ id: UInt32) { self.id = id }
}

@Suite struct CallTableTests {
    @Test(arguments: [UInt32(64), 4_096, 1 << 30])
    func agreesWithADictionary(keySpace: UInt32) {
        var rng = SystemRandomNumberGenerator()
        var table = CallTable<Box>()
        var reference: [UInt32: Box] = [:]
        for step in 0..<40_000 {
            let key = UInt32.random(in: 0..<keySpace, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let box = Box(key)
                let existing = table.insert(box, for: key)
                #expect(existing === reference[key], "insert of \(key) at step \(step)")
                if existing == nil { reference[key] = box }
            case 1:
                #expect(table.removeValue(forKey: key) === reference.removeValue(forKey: key), "remove \(key)")
            default:
                #expect(table[key] === reference[key], "lookup \(key)")
            }
            #expect(table.count == reference.count)
            if step % 10_000 == 9_999 {
                // Every entry is still reachable and nothing else is there.
                #expect(table.values.count == reference.count)
                #expect(reference.allSatisfy { table[$0.key] === $0.value })
            }
        }
        table.removeAll()
        #expect(table.isEmpty && table.values.isEmpty && table[1] == nil)
    }

    @Test func keysThatShareAHomeAreAllKept() {
        // Many keys, many collisions whatever the multiplier: a full run removed from the middle.
        var table = CallTable<Box>()
        let keys = (0..<3_000).map { UInt32($0) << 20 }
        for k in keys { #expect(table.insert(Box(k), for: k) == nil) }
        for k in keys where k % (3 << 20) == 0 { #expect(table.removeValue(forKey: k)?.id == k) }
        for k in keys { #expect((table[k] != nil) == (k % (3 << 20) != 0)) }
    }
}
