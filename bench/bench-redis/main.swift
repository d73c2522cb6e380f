// bench-redis: the Redis-only ceiling of the pipeline — per task, the same Redis commands the
// services issue under load (the batched submit script, the read-and-start script, the succeed
// script), sent by a plain client with no service in between, a batch of DEPTH tasks at a time.
// Prints one JSON object.
//
//   bench-redis SOCKET TASKS DEPTH

import Foundation
import MeshLoop
import MeshRedis
import TaskQueue

let args = CommandLine.arguments
guard args.count == 4, let tasks = Int(args[2]), let depth = Int(args[3]) else {
    FileHandle.standardError.write(Data("usage: bench-redis SOCKET TASKS DEPTH\n".utf8))
    exit(64)
}
let loop = try EventLoop()
let redis = RedisClient(loop: loop, endpoint: .unix(path: args[1]))
let keys = TaskKeys(prefix: "{bench}")
let submitMany = TaskScripts.submitMany()
let readAndStart = TaskScripts.readAndStart()
let succeed = TaskScripts.succeed()
for s in [submitMany, readAndStart, succeed] { redis.register(s) }
redis.start()
loop.run(until: { redis.isConnected })
var ready = false
redis.send(["XGROUP", "CREATE", keys.stream, keys.group, "0", "MKSTREAM"]) { _ in ready = true }
loop.run(until: { ready })

let message = Array("my secret email is test@mail.com and my card is 1234567890123456".utf8)
let result = Array(
    #"{"alerts":["card_number_detected","email_detected","personal_data"],"findings":[],"status":"processed"}"#.utf8)
func b(_ s: String) -> [UInt8] { Array(s.utf8) }

var done = 0
var failures = 0
let begin = DispatchTime.now().uptimeNanoseconds
while done < tasks {
    let n = min(depth, tasks - done)
    let ids = (0..<n).map { _ in UUID().uuidString.lowercased() }
    // One submit script for the batch, as api-service does for the requests of one loop turn.
    var replies = 0
    redis.eval(
        submitMany, keys: [keys.stream, keys.counters] + ids.map { keys.task($0) },
        arguments: ids.flatMap { [b($0), message] }
    ) {
        if case .success(.bulk) = $0 {} else { failures += 1 }; replies = n
    }
    loop.run(until: { replies == n })
    // Read and start in one script call, as the worker does while reads find work.
    var entries: [(String, String)] = []
    var startedBatch = false
    redis.eval(
        readAndStart, keys: [keys.stream, keys.dead, keys.counters],
        arguments: [keys.group, "bench", "10", "5", "86400", "10000", String(n), keys.taskPrefix].map(b)
    ) { r in
        if case .success(let value) = r, let read = ReadStartReply.decode(value) {
            entries = read.entries.map { ($0.entry, $0.taskID) }
        } else {
            failures += n
        }
        startedBatch = true
    }
    loop.run(until: { startedBatch })
    // One succeed script per batch, as the worker does for the tasks it finishes in one loop turn.
    var succeedArguments = [b(keys.group), b("86400")]
    for (entry, _) in entries { succeedArguments += [b(entry), result] }
    var succeeded = false
    redis.eval(
        succeed, keys: [keys.stream, keys.counters] + entries.map { keys.task($0.1) }, arguments: succeedArguments
    ) {
        if case .success(.array(let r?)) = $0 {
            failures += r.filter { $0.string != "ok" }.count
        } else {
            failures += entries.count
        }
        succeeded = true
    }
    loop.run(until: { succeeded })
    done += n
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
print(
    #"{"tasks": \#(tasks), "depth": \#(depth), "seconds": \#(seconds), "tasks_per_s": \#(Double(tasks) / seconds), "failures": \#(failures)}"#
)
redis.close()
for _ in 0..<10 { _ = loop.runOnce() }
