// FuzzCase: one fuzz input driven through every MeshWire parser (used by the fuzzer and the tests).

/// Feeds `input` to the decoder (first byte picks the chunk size and whether a preface is expected)
/// and to the body parsers. Returns the number of events decoded. Never traps on any input.
@discardableResult
public func runFrameDecoderFuzzCase(_ input: UnsafeRawBufferPointer) -> Int {
    guard let control = input.first else { return 0 }
    let data = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    var decoder = FrameDecoder(expectPreface: control & 0x80 != 0, maxBodyLength: 4096, hardMaxBodyLength: 1 << 20)
    let chunk = max(1, Int(control & 0x3F))
    var events = 0
    var offset = 0
    loop: while offset < data.count {
        let n = min(chunk, data.count - offset)
        decoder.feed(UnsafeRawBufferPointer(rebasing: data[offset..<offset + n]))
        offset += n
        while true {
            do {
                guard let event = try decoder.next() else { break }
                events += 1
                if case .frame(let f) = event {
                    _ = try? ErrorBody(parsing: f.payload)
                    _ = try? HelloSettings(metadata: f.metadata)
                    precondition(f.payload.count <= 4096, "decoder let a body past its limit")
                }
            } catch {
                break loop
            }
        }
        precondition(decoder.bufferedByteCount <= 4096 + FrameHeader.size + 64, "decoder buffered past its limit")
    }
    _ = try? Metadata.parse(data)
    return events
}
