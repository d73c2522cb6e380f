// bench-detect: times the Swift detector on bench/detect_data.py's inputs; one JSON line per input.

import Alerts
import Foundation

@main
enum BenchDetect {
    /// Scans each message of `buffer` (they end at `ends`) and sums the alert bits. Not isolated to
    /// the main actor, as `main` is: a closure made there checks its executor at every call.
    nonisolated static func scanAll(_ engine: Detector, _ buffer: UnsafeRawBufferPointer, ends: [Int], maxFindings: Int)
        -> Int
    {
        var alerts = 0
        var start = 0
        for end in ends {
            alerts &+= Int(
                engine.scan(UnsafeRawBufferPointer(rebasing: buffer[start..<end]), maxFindings: maxFindings).alerts.bits
            )
            start = end
        }
        return alerts
    }

    static func main() throws {
        guard CommandLine.arguments.count == 2 else {
            FileHandle.standardError.write(Data("usage: bench-detect DATA_DIR\n".utf8))
            exit(2)
        }
        let dir = CommandLine.arguments[1]
        let detector = Detector()
        // The four seed codes alone (the v2 detectors off): the same engine as before v2, for the
        // "what do five more detectors cost" ratio measured in the same run.
        var v1Rules = Rules.default
        v1Rules.patterns = [.emailDetected, .cardNumberDetected]
        let v1 = Detector(rules: v1Rules)
        for name in ["ascii", "cyrillic"] {
            let text = try String(contentsOfFile: dir + "/\(name).txt", encoding: .utf8)
            let messages = text.split(separator: "\n").map { Array(String($0).utf8) }
            let size = messages.reduce(0) { $0 + $1.count }
            // End to end in one buffer, as a service holds a message it decoded: the timed loop then
            // costs what the scans cost, not an array's retain and release per message.
            let flat = messages.flatMap { $0 }
            var ends: [Int] = []
            for m in messages { ends.append((ends.last ?? 0) + m.count) }
            // "full": codes + masked findings (what Analyze returns); "codes": the alert codes only,
            // the same output as the Python checks.
            for (mode, maxFindings, engine) in [
                ("full", 1_000, detector), ("codes", 0, detector), ("v1", 1_000, v1), ("v1-codes", 0, v1),
            ] {
                var best = Double.infinity
                var alerts = 0
                for _ in 0..<5 {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    alerts &+= flat.withUnsafeBytes { scanAll(engine, $0, ends: ends, maxFindings: maxFindings) }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                let input = mode == "full" ? name : name + "-" + mode
                print(
                    #"{"input": "\#(input)", "mb_per_s": \#(Double(size) / best / 1e6), "msgs_per_s": \#(Double(messages.count) / best), "check": \#(alerts)}"#
                )
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("hostile-") }
            .sorted()
        for f in files {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)))
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = bytes.withUnsafeBytes { detector.scan($0) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            let name = String(f.dropFirst(8).dropLast(4))
            print(
                #"{"input": "\#(name)", "bytes": \#(bytes.count), "mb_per_s": \#(Double(bytes.count) / best / 1e6), "seconds": \#(best)}"#
            )
        }
    }
}
