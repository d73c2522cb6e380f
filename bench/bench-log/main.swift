// bench-log: the log pipeline's costs — per call on the hot path, events/s through the handler
// with the file and UDP active, and a paced rate into a real influxd (counted by bench/run).
//
//   bench-log calls N DIR [HOST:PORT]        ns per logger.info call (the caller's cost only)
//   bench-log throughput N DIR [HOST:PORT]   events/s until every event is written and sent
//   bench-log paced RATE SECONDS DIR HOST:PORT   RATE events/s for SECONDS; prints what was sent
//
// Each prints one JSON object.

import Foundation
import Logging
import MeshLog

let args = CommandLine.arguments
guard args.count >= 4 else {
    FileHandle.standardError.write(
        Data("usage: bench-log calls|throughput N DIR [HOST:PORT] | paced RATE SECONDS DIR HOST:PORT\n".utf8))
    exit(64)
}

func makeShipper(dir: String, influx: String?) -> LogShipper {
    var config = LogShipper.Configuration(service: "bench", filePath: dir + "/bench.log")
    config.queueCapacity = 1 << 20
    config.maxFileBytes = 1 << 30
    if let influx, let colon = influx.lastIndex(of: ":") {
        config.influxHost = String(influx[..<colon])
        config.influxPort = UInt16(influx[influx.index(after: colon)...])!
    }
    return try! LogShipper(configuration: config)
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Accepts every event and does nothing: the floor any handler pays (building the metadata).
struct DiscardHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {}
}

let mode = args[1]
switch mode {
case "discard", "stream":
    // Baselines in the same run: the floor, and swift-log's StreamLogHandler writing each line to a
    // file from the caller's thread.
    let n = Int(args[2])!
    let path = args[3] + "/stream.log"
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let file = fopen(path, "w")!
    let logger =
        mode == "discard"
        ? Logger(label: "bench") { _ in DiscardHandler() }
        : Logger(label: "bench") { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .info
            return h
        }
    let saved = dup(2)
    if mode == "stream" { dup2(fileno(file), 2) }
    let start = now()
    for i in 0..<n {
        logger.info(
            "task succeeded", metadata: ["task_id": "t-\(i)", "attempt": "1", "duration_ms": "2.5"])
    }
    let elapsed = now() - start
    fflush(nil)
    dup2(saved, 2)
    fclose(file)
    print(#"{"mode": "\#(mode)", "events": \#(n), "ns_per_call": \#(Double(elapsed) / Double(n))}"#)
case "calls", "throughput":
    let n = Int(args[2])!
    let shipper = makeShipper(dir: args[3], influx: args.count > 4 ? args[4] : nil)
    let logger = Logger(label: "bench") { MeshLogHandler(label: $0, shipper: shipper) }
    let start = now()
    for i in 0..<n {
        logger.info(
            "task succeeded", metadata: ["task_id": "t-\(i)", "attempt": "1", "duration_ms": "2.5"])
    }
    let called = now()
    shipper.flush()
    let done = now()
    let s = shipper.stats
    let callNs = Double(called - start) / Double(n)
    let seconds = Double(done - start) / 1e9
    print(
        #"{"mode": "\#(mode)", "events": \#(n), "ns_per_call": \#(callNs), "events_per_s": \#(Double(n) / seconds), "#
            + #""dropped": \#(s.dropped), "datagrams": \#(s.datagramsSent), "lines_sent": \#(s.linesSent), "udp_bytes": \#(s.udpBytesSent)}"#
    )
    shipper.shutdown()
case "paced":
    let rate = Double(args[2])!
    let seconds = Double(args[3])!
    let shipper = makeShipper(dir: args[4], influx: args[5])
    let logger = Logger(label: "bench") { MeshLogHandler(label: $0, shipper: shipper) }
    let total = Int(rate * seconds)
    let start = now()
    var sent = 0
    while sent < total {
        // Release the events due by now, then sleep a millisecond: a steady rate, not a burst.
        let due = min(total, Int(Double(now() - start) / 1e9 * rate))
        while sent < due {
            logger.info("paced", metadata: ["task_id": "p-\(sent)", "seq_count": "\(sent)"])
            sent += 1
        }
        usleep(1_000)
    }
    let elapsed = Double(now() - start) / 1e9
    shipper.flush()
    let s = shipper.stats
    print(
        #"{"mode": "paced", "events": \#(total), "seconds": \#(elapsed), "dropped": \#(s.dropped), "#
            + #""datagrams": \#(s.datagramsSent), "lines_sent": \#(s.linesSent), "udp_errors": \#(s.udpErrors)}"#)
    shipper.shutdown()
default:
    FileHandle.standardError.write(Data("bench-log: unknown mode \(mode)\n".utf8))
    exit(64)
}
