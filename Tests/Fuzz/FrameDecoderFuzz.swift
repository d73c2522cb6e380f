// libFuzzer target for MeshWire: the frame decoder and every body parser must reject any input
// with an error, never crash, hang or buffer without bound. Built and run by scripts/fuzz.

@_cdecl("LLVMFuzzerTestOneInput")
public func frameDecoderFuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    runFrameDecoderFuzzCase(input)
    return 0
}
