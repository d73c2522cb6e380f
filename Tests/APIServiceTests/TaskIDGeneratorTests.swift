// TaskIDGeneratorTests: task ids are version 4 UUIDs, distinct, across buffer refills.

import APIService
import Foundation
import Testing

@Suite struct TaskIDGeneratorTests {
    @Test func idsAreLowerCaseVersion4UUIDsAndDistinctAcrossRefills() {
        let generator = TaskIDGenerator()
        var seen = Set<String>()
        for _ in 0..<1_000 {  // 1,000 ids: almost four refills of the 4 KiB pool
            let id = generator.make()
            #expect(
                id.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/) != nil, "\(id)"
            )
            #expect(UUID(uuidString: id) != nil)
            seen.insert(id)
        }
        #expect(seen.count == 1_000)
    }
}
