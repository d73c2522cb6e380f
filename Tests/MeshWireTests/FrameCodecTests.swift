// FrameCodecTests: encoder/decoder round trips, the golden frames of proto/, every malformed class.

import MeshWire
import Testing

@Suite struct FrameCodecTests {
    /// Decodes every event in `bytes`, fed in one piece.
    func decodeAll(_ bytes: [UInt8], expectPreface: Bool = false, maxBody: UInt32 = HelloSettings.defaultMaxFrame)
        throws -> [FrameDecoder.Event]
    {
        var d = FrameDecoder(expectPreface: expectPreface, maxBodyLength: maxBody)
        d.feed(bytes)
        var out: [FrameDecoder.Event] = []
        while let e = try d.next() { out.append(e) }
        return out
    }

    /// Decodes `bytes` fed one byte at a time: framing must not depend on how reads split.
    func decodeBytewise(_ bytes: [UInt8], expectPreface: Bool = false) throws -> [FrameDecoder.Event] {
        var d = FrameDecoder(expectPreface: expectPreface)
        var out: [FrameDecoder.Event] = []
        for b in bytes {
            d.feed([b])
            while let e = try d.next() { out.append(e) }
        }
        return out
    }

    static let goldenFrames: [(String, Frame)] = {
        var hello = HelloSettings()
        hello.maxFrame = 4_194_304
        hello.pingIntervalMs = 30_000
        hello.peer = "rpc-probe"
        var ack = HelloSettings()
        ack.maxConcurrent = 4096
        ack.pingIntervalMs = 30_000
        ack.peer = "alert-service"
        ack.build = "1.0.0"
        let svc = Array("alertmesh.v1.AlertService".utf8)
        return [
            ("hello", Frame(type: .hello, metadata: hello.metadata)),
            ("hello-ack", Frame(type: .helloAck, metadata: ack.metadata)),
            (
                "request-health",
                Frame(type: .request, requestID: 1, methodID: 0x0001_0001, aux: 2000, payload: [0x0A, 25] + svc)
            ),
            (
                "request-metadata",
                Frame(
                    type: .request, flags: .idempotent, requestID: 3, methodID: 0x0004_0001,
                    metadata: ["task-id": "7f3c"], payload: [0x0A, 0x02, 0x68, 0x69])
            ),
            ("response-health", Frame(type: .response, requestID: 1, methodID: 0x0001_0001, payload: [0x08, 0x01])),
            (
                "error-deadline",
                Frame(
                    type: .error, requestID: 5, methodID: 0x0100_0001, aux: 4,
                    payload: ErrorBody(message: "deadline of 100 ms exceeded at the server").bytes)
            ),
            ("cancel", Frame(type: .cancel, requestID: 9, methodID: 0x0100_0001, aux: 4)),
            ("ping", Frame(type: .ping, aux: 7)),
            ("pong", Frame(type: .pong, aux: 7)),
            ("goaway", Frame(type: .goaway, aux: 41, payload: ErrorBody(message: "server is shutting down").bytes)),
        ]
    }()

    @Test(arguments: goldenFrames.map(\.0))
    func goldenFrameEncodesAndDecodes(name: String) throws {
        let expected = Self.goldenFrames.first { $0.0 == name }!.1
        let golden = Golden.bytes(name)
        #expect(expected.bytes == golden, "encoder disagrees with proto/golden/\(name).hex")
        #expect(try decodeAll(golden) == [.frame(expected)])
        #expect(try decodeBytewise(golden) == [.frame(expected)])
    }

    @Test func goldenHelloCarriesSettings() throws {
        guard case .frame(let f) = try decodeAll(Golden.bytes("hello")).first else { Issue.record(); return }
        let s = try HelloSettings(metadata: f.metadata)
        #expect(s.maxFrame == 4_194_304 && s.pingIntervalMs == 30_000 && s.peer == "rpc-probe")
    }

    @Test func everyGoldenFileIsCovered() {
        let covered = Set(
            Self.goldenFrames.map(\.0) + Self.malformed.map(\.0) + ["preface", "old-version", "http-request"])
        #expect(Set(Golden.allNames).subtracting(covered).isEmpty)
    }

    @Test func prefaceThenFrames() throws {
        let bytes = Golden.bytes("preface") + Golden.bytes("ping") + Golden.bytes("pong")
        let events = try decodeBytewise(bytes, expectPreface: true)
        #expect(
            events == [.preface(Preface()), .frame(Frame(type: .ping, aux: 7)), .frame(Frame(type: .pong, aux: 7))])
    }

    @Test func roundTripRandomFrames() throws {
        var rng = SystemRandomNumberGenerator()
        var stream: [UInt8] = []
        var frames: [Frame] = []
        for i in 0..<300 {
            var md = Metadata()
            if Bool.random(using: &rng) {
                md["trace-id"] = String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16)
            }
            let payload = (0..<Int.random(in: 0...2000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng)
            }
            let f = Frame(
                type: FrameType.allCases.randomElement(using: &rng)!, flags: Bool.random() ? .oneway : [],
                requestID: UInt32(i * 2 + 1), methodID: UInt32.random(in: 0...UInt32.max, using: &rng),
                aux: UInt32.random(in: 0...UInt32.max, using: &rng), metadata: md, payload: payload)
            frames.append(f)
            f.encode(into: &stream)
        }
        // Feed in random-sized chunks.
        var d = FrameDecoder(expectPreface: false)
        var out: [Frame] = []
        var i = 0
        while i < stream.count {
            let n = min(stream.count - i, Int.random(in: 1...5000, using: &rng))
            d.feed(Array(stream[i..<i + n]))
            i += n
            while let e = try d.next() {
                guard case .frame(let f) = e else { Issue.record("unexpected \(e)"); return }
                out.append(f)
            }
        }
        #expect(out == frames)
        #expect(d.bufferedByteCount == 0)
    }

    // MARK: Malformed input: each class gets its documented outcome.

    static let malformed: [(String, String)] = [
        ("bad-magic", "protocol error: bad frame magic 0xb1 (expected 0xa1)"),
        ("too-short", "protocol error: frame length 8 is below the header size 16"),
        ("too-large", "protocol error: frame length 16777233 exceeds the hard limit 16777232"),
        ("unknown-type", "unknownType"),
        ("bad-metadata", "malformed"),
    ]

    @Test(arguments: malformed.map(\.0))
    func malformedGoldenInput(name: String) throws {
        let expectation = Self.malformed.first { $0.0 == name }!.1
        var d = FrameDecoder(expectPreface: false)
        d.feed(Golden.bytes(name))
        switch expectation {
        case "unknownType":
            #expect(try d.next() == .unknownType(rawType: 0x0B, requestID: 11, methodID: 0x0001_0001))
        case "malformed":
            guard case .malformed(let h, .badMetadata) = try d.next() else {
                Issue.record("expected malformed"); return
            }
            #expect(h.requestID == 13)
            #expect(try d.next() == nil)  // consumed whole: the stream is still in sync
        default:
            #expect(performing: { _ = try d.next() }, throws: { ($0 as? WireError)?.description == expectation })
            // Once failed, always failed.
            #expect(throws: WireError.self) { _ = try d.next() }
        }
    }

    @Test func httpRequestOnRPCPortIsRecognised() {
        var d = FrameDecoder(expectPreface: true)
        d.feed(Golden.bytes("http-request"))
        #expect(throws: WireError.httpPeer(firstLine: "GET / HTTP/1.1")) { _ = try d.next() }
    }

    @Test func httpIsRecognisedFromTheFirstBytes() throws {
        // Even a lone "G" that can only be HTTP waits; a lone byte that cannot be ours fails at once.
        var d = FrameDecoder(expectPreface: true)
        d.feed(Array("GE".utf8))
        #expect(try d.next() == nil)
        var junk = FrameDecoder(expectPreface: true)
        junk.feed([0x16])  // a TLS ClientHello starts with 0x16
        #expect(throws: WireError.badPreface(bytes: [0x16])) { _ = try junk.next() }
    }

    @Test func oldVersionIsRefused() {
        var d = FrameDecoder(expectPreface: true)
        d.feed(Golden.bytes("old-version"))
        #expect(throws: WireError.unsupportedVersion(major: 2, minor: 0)) { _ = try d.next() }
    }

    @Test func truncatedInputWaitsAndNeverConsumesPartialFrames() throws {
        let full = Golden.bytes("request-metadata")
        for cut in 0..<full.count {
            var d = FrameDecoder(expectPreface: false)
            d.feed(Array(full[..<cut]))
            #expect(try d.next() == nil, "a frame cut at \(cut) bytes must not decode")
            d.feed(Array(full[cut...]))
            guard case .frame = try d.next() else { Issue.record("cut \(cut) did not resume"); return }
        }
    }

    @Test func oversizedBodyIsSkippedWithoutBuffering() throws {
        let big = Frame(type: .request, requestID: 1, methodID: 1, payload: [UInt8](repeating: 7, count: 100_000))
        let next = Frame(type: .request, requestID: 3, methodID: 1, payload: [1, 2, 3])
        let bytes = big.bytes + next.bytes
        var d = FrameDecoder(expectPreface: false, maxBodyLength: 1_000)
        var events: [FrameDecoder.Event] = []
        var maxBuffered = 0
        for start in stride(from: 0, to: bytes.count, by: 4096) {
            d.feed(Array(bytes[start..<min(bytes.count, start + 4096)]))
            while let e = try d.next() { events.append(e) }
            maxBuffered = max(maxBuffered, d.bufferedByteCount)
        }
        #expect(events.count == 2)
        guard case .oversized(let h) = events[0] else { Issue.record("expected oversized"); return }
        #expect(h.requestID == 1 && h.bodyLength == 100_000)
        #expect(events[1] == .frame(next))
        #expect(maxBuffered < 4096 + FrameHeader.size, "the rejected body was buffered")
    }

    @Test func framesAfterASkippedBodyInTheSameReadAreKept() throws {
        let next = Frame(type: .request, requestID: 3, methodID: 1, payload: [1, 2, 3])
        let oversized = Frame(type: .request, requestID: 1, methodID: 1, payload: [UInt8](repeating: 7, count: 2_000))
        let unknown: [UInt8] = [0, 0, 0, 19, 0xA1, 0x0B, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3]
        let events = try decodeAll(oversized.bytes + unknown + next.bytes, maxBody: 1_000)
        #expect(events.count == 3)
        #expect(events.last == .frame(next))
    }

    @Test func metadataValidation() {
        var md = Metadata()
        md["Bad Key"] = "x"
        #expect(throws: WireError.self) { try md.validate() }
        var big = Metadata()
        big["k"] = String(repeating: "v", count: 9000)
        #expect(throws: WireError.self) { try big.validate() }
        let ok: Metadata = ["task-id": "abc", "trace-id": "1"]
        #expect(throws: Never.self) { try ok.validate() }
    }

    @Test func errorBodyTruncatesLongMessagesOnCharacterBoundaries() throws {
        let long = String(repeating: "ü", count: 2000)
        let body = ErrorBody(message: long).bytes
        let parsed = try ErrorBody(parsing: body)
        #expect(parsed.message.utf8.count <= ErrorBody.maxMessageBytes)
        #expect(parsed.message.hasSuffix("..."))
        #expect(throws: WireError.self) { _ = try ErrorBody(parsing: [0x00, 0x09, 0x41]) }
    }

    @Test func helloSettingsRejectNonsense() throws {
        #expect(throws: WireError.self) { _ = try HelloSettings(metadata: ["max-frame": "lots"]) }
        #expect(throws: WireError.self) { _ = try HelloSettings(metadata: ["max-frame": "10"]) }
        #expect(try HelloSettings(metadata: ["max-frame": "999999999"]).maxFrame == HelloSettings.hardMaxFrame)
        #expect(try HelloSettings(metadata: ["future-setting": "x"]).maxFrame == HelloSettings.defaultMaxFrame)
    }

    @Test func statusCodesMatchGRPC() {
        #expect(StatusCode.deadlineExceeded.rawValue == 4)
        #expect(StatusCode.resourceExhausted.rawValue == 8)
        #expect(StatusCode.unavailable.rawValue == 14)
        #expect(StatusCode(name: "not_found") == .notFound)
        #expect(StatusCode.allCases.count == 17)
    }
}
