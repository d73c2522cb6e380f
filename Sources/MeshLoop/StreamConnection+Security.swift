// StreamConnection+Security: a security layer (TLS) between the socket and the stream's users —
// opening what is read, sealing what is written, and where each record lies on the wire.

internal import CLibUV

extension StreamConnection {
    /// Puts `layer` between the socket and this stream's users (before reading starts): from now
    /// on writes are sealed and reads opened by it, and bytes written before its handshake is
    /// done wait for it.
    public func secure(with layer: any StreamSecurity) {
        precondition(security == nil && bytesRead == 0, "secure(with:) once, before reading")
        security = layer
        do {
            try layer.start()
        } catch {
            return failSecurity(error)
        }
        layer.takeOutput(into: &outbound)
        if corkDepth == 0 { flush() }
    }

    func open(_ bytes: UnsafeRawBufferPointer, with layer: any StreamSecurity) {
        let scratch = UnsafeMutableRawBufferPointer(start: readBuffer, count: StreamConnection.readBufferSize)
        let peerClosed: Bool
        do {
            peerClosed = try layer.open(bytes, scratch: scratch) { plain in
                guard !self.isClosing else { return false }
                self.noteSecured(layer)
                self.onRead?(plain)
                return !self.isClosing
            }
        } catch {
            return failSecurity(error)
        }
        layer.takeOutput(into: &outbound)
        noteSecured(layer)
        if peerClosed && !isClosing { didReachEOF() }
    }

    private func noteSecured(_ layer: any StreamSecurity) {
        guard securityFailure == nil, layer.isEstablished, let onSecured else { return }
        self.onSecured = nil
        onSecured()
    }

    /// The layer refused the peer: send what it has to say (a TLS alert), then close.
    func failSecurity(_ error: StreamSecurityError) {
        guard !isClosing else { return }
        securityFailure = error.description
        uv_read_stop(stream)
        security?.takeOutput(into: &outbound)
        plaintext = []
        closeAfterFlush()
    }

    /// Seals `bytes` onto `outbound` one record at a time (16 KiB, TLS's largest), marking where
    /// each record lies on the wire: a record reaches the peer whole or not at all.
    func seal(_ bytes: [UInt8], with security: any StreamSecurity) -> StreamSecurityError? {
        bytes.withUnsafeBytes { all -> StreamSecurityError? in
            var offset = 0
            while offset < all.count {
                let n = min(16_384, all.count - offset)
                let wireStart = bytesWritten + UInt64(outbound.count)
                do throws(StreamSecurityError) {
                    try security.seal(UnsafeRawBufferPointer(rebasing: all[offset..<offset + n]))
                } catch {
                    return error
                }
                security.takeOutput(into: &outbound)
                if sealMarks.count >= 1_024 { sealMarks.removeFirst(512) }
                sealMarks.append(
                    (sealedPlaintext + UInt64(offset), wireStart, bytesWritten + UInt64(outbound.count)))
                offset += n
            }
            return nil
        }
    }

}
