// LogShipperTests: files, rotation, reopening, the bounded queue, and a real influxd over UDP.

import Foundation
import Logging
import MeshTestSupport
import MeshTime
import Testing

@testable import MeshLog

func tempDir() -> String {
    let dir = NSTemporaryDirectory() + "alertmesh-log-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func lines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

let influxConfig = repositoryRoot.appendingPathComponent("compose/influxdb/influxdb.conf").path

struct LogFormatTests {
    @Test func logfmtQuotesWhatNeedsQuotesAndKeepsOneLine() {
        var out: [UInt8] = []
        let record = LogRecord(
            timestampNs: 1_795_965_544_245_000_000, level: "info", message: "task\nsucceeded \"ok\"",
            metadata: [("task_id", "abc"), ("path", "C:\\x"), ("empty", ""), ("eq", "a=b")])
        LogFormat.logfmt(record, service: "worker", into: &out)
        #expect(
            String(decoding: out, as: UTF8.self)
                == #"ts=2026-11-29T15:19:04.245Z level=info service=worker msg="task\nsucceeded \"ok\"" task_id=abc path=C:\x empty="" eq="a=b""#
                + "\n")
    }

    @Test func influxFieldsAreTypedByKeySoTheyNeverConflict() {
        var out: [UInt8] = []
        let record = LogRecord(
            timestampNs: 5, level: "warning", message: "m",
            metadata: [
                ("duration_ms", "1.5"), ("attempt", "2"), ("status", "200"), ("time", "x"), ("bytes", "nan?"),
                ("in_flight", "007"), ("scan_us", "1e3"), ("count", "-0.50"),
            ])
        LogFormat.lineProtocol(record, service: "api service", host: "h,1", into: &out)
        #expect(
            String(decoding: out, as: UTF8.self)
                == #"log_event,host=h\,1,level=warning,service=api\ service message="m",duration_ms=1.5,attempt=2,status="200",time_="x",bytes="nan?",in_flight=7.0,scan_us=1000.0,count=-0.50 5"#
                + "\n")
    }
}

extension LogFormatTests {
    /// The writer's direct formatting says what `LineProtocol.append` says of the same tags and fields.
    @Test func pointsAreWhatTheGeneralEncoderWrites() {
        let records = [
            LogRecord(timestampNs: 1, level: "info", message: "a \"b\"\n", metadata: []),
            LogRecord(
                timestampNs: 1_795_965_544_245_000_001, level: "error", message: "x",
                metadata: [("a b", "c,d"), ("message", "m"), ("", "dropped"), ("duration_ms", "12.25"), ("x=y", "\\")]),
        ]
        for record in records {
            for (service, host) in [("worker", "h"), ("a,b c", ""), ("", "h\\x")] {
                var direct: [UInt8] = []
                LogFormat.lineProtocol(record, service: service, host: host, into: &direct)
                var fields: [(String, FieldValue)] = [("message", .string(record.message))]
                for (k, v) in record.metadata where !k.isEmpty {
                    let name = k == "message" || k == "time" ? k + "_" : k
                    fields.append((name, LogFormat.isNumericKey(k) ? .float(Double(v)!) : .string(v)))
                }
                var general: [UInt8] = []
                LineProtocol.append(
                    measurement: "log_event", tags: [("service", service), ("level", record.level), ("host", host)],
                    fields: fields, timestampNs: record.timestampNs, to: &general)
                #expect(String(decoding: direct, as: UTF8.self) == String(decoding: general, as: UTF8.self))
            }
        }
    }

    @Test func timestampsAreWrittenAsRFC3339Milliseconds() {
        var out: [UInt8] = []
        Timestamp.append(ms: 1_795_965_544_005, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "2026-11-29T15:19:04.005Z")
        #expect(Timestamp.rfc3339(ms: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.rfc3339(ms: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
    }
}

@Suite(.serialized) struct LogShipperTests {
    @Test func handlerWritesLogfmtLinesToTheFile() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shipper = try LogShipper(
            configuration: .init(service: "api-service", filePath: dir + "/logs/api-service.log"))
        var logger = Logger(label: "t") { MeshLogHandler(label: $0, shipper: shipper, level: .debug) }
        logger[metadataKey: "request"] = "r1"
        logger.info("task submitted", metadata: ["task_id": "t-1", "bytes": "12"])
        logger.debug("details")
        logger.trace("not at this level")
        shipper.flush()
        let got = lines(dir + "/logs/api-service.log")
        #expect(got.count == 2)
        #expect(
            got.first?.hasSuffix(
                " level=info service=api-service msg=\"task submitted\" bytes=12 request=r1 task_id=t-1") == true)
        #expect(got.first?.hasPrefix("ts=20") == true)
        #expect(shipper.stats.fileLines == 2 && shipper.stats.dropped == 0)
        shipper.shutdown()
    }

    @Test func filesRotateBySizeAndReopenAfterTheyAreMoved() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = LogShipper.Configuration(service: "w", filePath: dir + "/w.log")
        config.maxFileBytes = 1_000
        config.keptFiles = 2
        let shipper = try LogShipper(configuration: config)
        for i in 0..<100 {
            shipper.enqueue(
                LogRecord(timestampNs: WallClock.nowNs(), level: "info", message: "event \(i)", metadata: []))
        }
        shipper.flush()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["w.log", "w.log.1", "w.log.2"], "the live file and two rotated ones, no more")
        for f in files {
            let size = (try FileManager.default.attributesOfItem(atPath: dir + "/" + f)[.size] as? Int) ?? 0
            #expect(size <= 1_000)
        }
        #expect(lines(dir + "/w.log").last?.contains("msg=\"event 99\"") == true)
        #expect(shipper.stats.rotations > 2)
        // logrotate moves the file and sends SIGHUP: the service reopens its path.
        try FileManager.default.moveItem(atPath: dir + "/w.log", toPath: dir + "/moved.log")
        shipper.reopen()
        shipper.enqueue(
            LogRecord(timestampNs: WallClock.nowNs(), level: "info", message: "after reopen", metadata: []))
        shipper.flush()
        #expect(lines(dir + "/w.log").count == 1 && lines(dir + "/w.log").first?.contains("after reopen") == true)
        shipper.shutdown()
    }

    @Test func aFullQueueDropsAndCountsAndSaysSo() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = LogShipper.Configuration(service: "w", filePath: dir + "/w.log")
        config.queueCapacity = 10
        // The writer is stalled the way a slow disk would stall it: inside its own work (the
        // redaction of the first event) until the test lets it go.
        let stalled = ThreadFlag()
        let release = ThreadFlag()
        config.redact = { text in
            if text == "first" {
                stalled.set()
                release.wait()
            }
            return text
        }
        let shipper = try LogShipper(configuration: config)
        shipper.enqueue(LogRecord(timestampNs: WallClock.nowNs(), level: "info", message: "first", metadata: []))
        stalled.wait()
        for i in 0..<100 {
            shipper.enqueue(LogRecord(timestampNs: WallClock.nowNs(), level: "info", message: "e\(i)", metadata: []))
        }
        #expect(shipper.stats.dropped == 90 && shipper.stats.events == 11)
        release.set()
        shipper.flush()
        let got = lines(dir + "/w.log")
        #expect(got.count == 12)
        #expect(got.last?.contains("log events dropped") == true && got.last?.contains("dropped=90") == true)
        shipper.shutdown()
    }

    @Test func redactionMasksBeforeAnythingLeavesTheProcess() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = LogShipper.Configuration(service: "w", filePath: dir + "/w.log")
        config.redact = { $0.replacingOccurrences(of: "hunter2", with: "h******") }
        let shipper = try LogShipper(configuration: config)
        shipper.enqueue(
            LogRecord(
                timestampNs: 1, level: "error", message: "bad hunter2",
                metadata: [("m", "hunter2"), ("task_id", "hunter2-is-an-id")]))
        shipper.flush()
        let text = lines(dir + "/w.log").joined()
        #expect(!text.contains("bad hunter2") && !text.contains("m=hunter2") && text.contains("h******"))
        #expect(text.contains("task_id=hunter2-is-an-id"), "ids the services generate are left alone")
        shipper.shutdown()
    }

    @Test func everyEventReachesARealInfluxdWithItsTagsAndFields() throws {
        let influx = try InfluxServer(configFile: influxConfig)
        defer { influx.stop() }
        var config = LogShipper.Configuration(service: "api-service", host: "test-host")
        config.influxHost = "127.0.0.1"
        config.influxPort = influx.udpPort
        config.flushIntervalMs = 50
        let shipper = try LogShipper(configuration: config)
        let logger = Logger(label: "t") { MeshLogHandler(label: $0, shipper: shipper) }
        let tricky = [
            "plain", "with space", "comma,here", "equals=sign", "quote \"q\"", "back\\slash", "ends with \\",
            "new\nline", "tab\tand\rcr", "héllo ✓ Привет 🔑",
        ]
        for (i, message) in tricky.enumerated() {
            logger.info(
                "\(message)", metadata: ["task_id": "task-\(i)", "duration_ms": "\(i).5", "note": "\(message)"])
        }
        for i in 0..<500 { logger.warning("bulk", metadata: ["task_id": "bulk-\(i)", "attempt": "\(i % 5)"]) }
        shipper.flush()
        #expect(shipper.stats.datagramsSent > 1, "500 lines do not fit one 8 KiB datagram")
        // The listener batches: poll until the count settles.
        var count = 0
        for _ in 0..<100 {
            let rows = influx.rows("SELECT count(message) FROM log_event")
            count = (rows.first?["count"] as? Int) ?? 0
            if count == 510 { break }
            usleep(100_000)
        }
        #expect(count == 510)
        let rows = influx.rows("SELECT * FROM log_event WHERE level = 'info'")
        #expect(rows.count == tricky.count)
        for (i, message) in tricky.enumerated() {
            let row = rows.first { $0["task_id"] as? String == "task-\(i)" }
            // Line protocol cannot carry control characters: they arrive as the text \n, \t, \r.
            let stored = message.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t")
                .replacingOccurrences(of: "\r", with: "\\r")
            #expect(row?["message"] as? String == stored, "message \(i)")
            #expect(row?["note"] as? String == stored, "field \(i)")
            #expect(row?["duration_ms"] as? Double == Double(i) + 0.5)
            #expect(row?["service"] as? String == "api-service" && row?["host"] as? String == "test-host")
        }
        let one = influx.rows("SELECT * FROM log_event WHERE task_id = 'bulk-7'")
        #expect(one.count == 1 && one.first?["attempt"] as? Double == 2 && one.first?["level"] as? String == "warning")
        shipper.shutdown()
    }

    @Test func anInfluxHostThatDoesNotResolveYetOnlyCostsUDPErrors() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = LogShipper.Configuration(service: "w", filePath: dir + "/w.log")
        config.influxHost = "influxdb.invalid"  // a compose service name before its container exists
        config.flushIntervalMs = 10
        let shipper = try LogShipper(configuration: config)
        for i in 0..<100 {
            shipper.enqueue(LogRecord(timestampNs: WallClock.nowNs(), level: "info", message: "m\(i)", metadata: []))
        }
        shipper.flush()
        #expect(lines(dir + "/w.log").count == 100)
        #expect(shipper.stats.udpErrors > 0 && shipper.stats.datagramsSent == 0 && shipper.stats.dropped == 0)
        shipper.shutdown()
    }

    @Test func withInfluxdGoneLoggingGoesOnAndNothingIsDropped() throws {
        let influx = try InfluxServer(configFile: influxConfig)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = LogShipper.Configuration(service: "w", filePath: dir + "/w.log")
        config.influxHost = "127.0.0.1"
        config.influxPort = influx.udpPort
        config.flushIntervalMs = 20
        let shipper = try LogShipper(configuration: config)
        let logger = Logger(label: "t") { MeshLogHandler(label: $0, shipper: shipper) }
        logger.info("before")
        shipper.flush()
        influx.stop()
        let start = Date()
        for i in 0..<20_000 { logger.info("while influxd is away", metadata: ["i": "\(i)"]) }
        let elapsed = Date().timeIntervalSince(start)
        shipper.flush()
        #expect(elapsed < 5, "logging never waits for influxd")
        #expect(lines(dir + "/w.log").count == 20_001, "the file gets every line")
        #expect(shipper.stats.dropped == 0 || shipper.stats.dropped < 20_000)
        #expect(shipper.stats.udpErrors > 0, "refused datagrams are counted")
        shipper.shutdown()
    }
}
