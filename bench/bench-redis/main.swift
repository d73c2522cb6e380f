// bench-redis: the Redis-only ceiling of the pipeline — per task, the same Redis commands the
// services issue under load (the batched submit script, the read-and-start script, the succeed
// script), sent by a plain client with no service in between, a batch of DEPTH tasks at a time.
// The payloads are the closed loop's too: loadgen's messages (its default mix and seed, in its
// order) and, stored as each task's result, what the detector finds in them — the message is
// written to the task's hash and its AOF, so a shorter one would make Redis's share of a task
// look cheaper than it is. Prints one JSON object.
//
//   bench-redis SOCKET TASKS DEPTH

import AlertService
import Alerts
import Foundation
import LoadGenerator
import MeshLoop
import MeshRedis
import TaskPipeline
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

// As loadgen prepares them (before the clock starts), with the result the worker would store.
let defaults = LoadRun.Configuration(endpoint: .unix(path: args[1]))
var mix = MessageMix(
    seed: defaults.seed, alertShare: defaults.alertShare, minBytes: defaults.minBytes, maxBytes: defaults.maxBytes)
let detector = Detector()
let maxFindings = AlertAnalyzer.Configuration().maxFindings
let payloads: [(message: [UInt8], result: [UInt8])] = (0..<max(1, min(tasks, defaults.distinctMessages))).map { _ in
    let message = mix.next()
    let scan = detector.scan(message, maxFindings: maxFindings)
    let result = TaskResult(
        alerts: scan.alerts.sorted.map(\.rawValue),
        findings: scan.findings.map {
            TaskResult.Finding(
                code: $0.code.rawValue, masked: $0.masked, offset: $0.offset, length: $0.length, luhnValid: $0.luhnValid
            )
        },
        findingsTruncated: scan.findingsTruncated)
    return (Array(message.utf8), result.json())
}
func b(_ s: String) -> [UInt8] { Array(s.utf8) }

var done = 0
var failures = 0
let begin = DispatchTime.now().uptimeNanoseconds
while done < tasks {
    let n = min(depth, tasks - done)
    let ids = (0..<n).map { _ in UUID().uuidString.lowercased() }
    let batch = (done..<done + n).map { payloads[$0 % payloads.count] }
    // One submit script for the batch, as api-service does for the requests of one loop turn.
    var replies = 0
    redis.eval(
        submitMany, keys: [keys.stream, keys.counters] + ids.map { keys.task($0) },
        arguments: TaskScripts.packSubmits(zip(ids, batch).map { ($0, $1.message) })
    ) {
        if case .success(.bulk) = $0 {} else { failures += 1 }; replies = n
    }
    loop.run(until: { replies == n })
    // Read and start in one script call, as the worker does while reads find work.
    var entries: [(String, String)] = []
    var startedBatch = false
    redis.eval(
        readAndStart, keys: [keys.stream, keys.dead, keys.counters],
        arguments: [
            keys.group, "bench", "10", "5", "86400", "10000", String(n), keys.taskPrefix, String(64 << 20), "32",
        ].map(b)
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
    let resultOf = Dictionary(uniqueKeysWithValues: zip(ids, batch.map(\.result)))
    for (entry, id) in entries { succeedArguments += [b(entry), resultOf[id] ?? []] }
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
let used = (0..<tasks).map { payloads[$0 % payloads.count] }
let messageBytes = Double(used.map(\.message.count).reduce(0, +)) / Double(max(1, tasks))
let resultBytes = Double(used.map(\.result.count).reduce(0, +)) / Double(max(1, tasks))
print(
    #"{"tasks": \#(tasks), "depth": \#(depth), "seconds": \#(seconds), "tasks_per_s": \#(Double(tasks) / seconds), "failures": \#(failures), "message_bytes": \#(messageBytes), "result_bytes": \#(resultBytes)}"#
)
redis.close()
for _ in 0..<10 { _ = loop.runOnce() }
