// LineProtocolTests: the escaping cases that cost whole datagrams in influxd 1.6, and batching.

import MeshLog
import Testing

@Suite struct LineProtocolTests {
    func line(_ m: String, _ tags: [(String, String)], _ fields: [(String, FieldValue)], _ ts: UInt64 = 1) -> String {
        var out: [UInt8] = []
        LineProtocol.append(measurement: m, tags: tags, fields: fields, timestampNs: ts, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func theReferenceExamples() {
        // The verified examples of the reference (§6.4), same tags, same values.
        #expect(
            line(
                "rpc log,x", [("svc name", "api,gw"), ("k=ey", "v=al")], [("msg", .string(#"said "hi" C:\dir\"#))],
                1_700_000_000_000_000_000)
                == #"rpc\ log\,x,k\=ey=v\=al,svc\ name=api\,gw msg="said \"hi\" C:\\dir\\" 1700000000000000000"# + "\n")
        #expect(
            line("rpc_log", [("svc", "a")], [("msg", .string(#"ends with \"#))])
                == #"rpc_log,svc=a msg="ends with \\" 1"# + "\n")
        #expect(line("rpc_log", [("svc", "b")], [("msg", .string("héllo ✓"))]) == "rpc_log,svc=b msg=\"héllo ✓\" 1\n")
    }

    @Test func newlinesNeverReachTheWire() {
        let l = line("log_event", [("service", "x\ny")], [("message", .string("a\nb\r\tc"))])
        #expect(l == #"log_event,service=x_y message="a\nb\r\tc" 1"# + "\n")
        #expect(l.filter { $0 == "\n" }.count == 1)
        #expect(!l.contains("\r"))
    }

    @Test func typesAndTagRules() {
        let l = line(
            "m", [("b", "2"), ("a", "1"), ("empty", ""), ("path", #"C:\"#)],
            [("n", .integer(-5)), ("d", .float(1.5)), ("ok", .boolean(true)), ("s", .string(""))])
        #expect(l == #"m,a=1,b=2,path=C:/ n=-5i,d=1.5,ok=true,s="" 1"# + "\n")
    }

    @Test func aPointWithoutFieldsIsNotWritten() {
        var out: [UInt8] = []
        #expect(!LineProtocol.append(measurement: "m", tags: [], fields: [], timestampNs: 1, to: &out))
        #expect(out.isEmpty)
    }

    @Test func longStringsAreCutBelowTheLimit() {
        for text in [
            String(repeating: "\"", count: 70_000), String(repeating: "é", count: 70_000),
            String(repeating: "x", count: 70_000),
        ] {
            let l = line("m", [], [("message", .string(text))])
            #expect(l.utf8.count <= LineProtocol.maxStringFieldBytes + 16)
            #expect(l.utf8.count < DatagramBatcher.udpLimit)
            // Cut between escapes and characters: the value still ends in a complete escape or character.
            let value = l.dropFirst(#"m message=""#.count).dropLast(#"" 1"#.count + 1)
            #expect(value.utf8.count % (text.hasPrefix("\"") || text.hasPrefix("é") ? 2 : 1) == 0)
        }
    }

    /// The writer copies runs of plain bytes whole; checked here against the rules applied one
    /// byte at a time, on random text full of bytes to escape (and multi-byte characters).
    @Test func escapingMatchesTheRulesByteByByte() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            return Int(seed % UInt64(n))
        }
        let pieces = [
            ",", " ", "=", "\\", "\"", "\n", "\r", "\t", "\u{1}", "\u{7f}", "a", "Z", "09", "é", "✓", "🙂", "",
        ]
        func escapedName(_ s: String, equals: Bool, slash: Bool) -> String {
            var out = ""
            for c in s.unicodeScalars {
                switch c {
                case ",", " ": out += "\\" + String(c)
                case "=" where equals: out += "\\="
                case "\\" where slash: out += "/"
                case "\n", "\r", "\t": out += "_"
                default: out.unicodeScalars.append(c)
                }
            }
            return out
        }
        /// A quoted value as both formats write it; logfmt also writes other control bytes as `?`.
        func quoted(_ s: String, otherControlsAs replacement: String? = nil) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where replacement != nil && (c.value < 32 || c.value == 127): out += replacement!
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }
        func logfmtValue(_ s: String) -> String {
            guard s.isEmpty || s.utf8.contains(where: { $0 <= 32 || $0 == 61 || $0 == 34 || $0 == 127 }) else {
                return s
            }
            return quoted(s, otherControlsAs: "?")
        }
        for _ in 0..<2_000 {
            let text = (0..<next(12)).map { _ in pieces[next(pieces.count)] }.joined()
            let tag = "t" + text
            #expect(
                line("m" + text, [("k", tag)], [("f" + text, .string(text))])
                    == escapedName("m" + text, equals: false, slash: false) + ",k="
                    + escapedName(tag, equals: true, slash: true) + " "
                    + escapedName("f" + text, equals: true, slash: true)
                    + "=" + quoted(text) + " 1\n")
            var out: [UInt8] = []
            LogFormat.logfmt(
                LogRecord(timestampNs: 0, level: "info", message: text, metadata: [("k", text)]), service: "s",
                into: &out)
            #expect(
                String(decoding: out, as: UTF8.self)
                    == "ts=1970-01-01T00:00:00.000Z level=info service=s msg=" + logfmtValue(text) + " k="
                    + logfmtValue(text) + "\n")
        }
    }

    @Test func batchingPacksWholeLines() {
        var b = DatagramBatcher(maxBytes: 100)
        let l30 = [UInt8](repeating: 0x61, count: 29) + [0x0A]
        var sent: [[UInt8]] = []
        for _ in 0..<7 { sent += b.add(l30) }
        #expect(sent.map(\.count) == [90, 90])
        #expect(b.flush()?.count == 30)
        #expect(b.flush() == nil)
        let big = [UInt8](repeating: 0x62, count: 500) + [0x0A]
        #expect(b.add(big).map(\.count) == [501])
        #expect(b.add([UInt8](repeating: 0, count: 70_000)).isEmpty)
        #expect(b.droppedOversized == 1)
    }
}
