// StreamConnection+Connect: a `uv_connect` request and the connection it completes.

internal import CLibUV

/// A `uv_connect` in flight.
final class ConnectRequest {
    let connection: StreamConnection
    let endpoint: Endpoint
    let completion: (Result<Void, UVError>) -> Void

    private init(_ c: StreamConnection, _ e: Endpoint, _ completion: @escaping (Result<Void, UVError>) -> Void) {
        connection = c
        endpoint = e
        self.completion = completion
    }

    static func make(
        _ c: StreamConnection, endpoint: Endpoint, _ completion: @escaping (Result<Void, UVError>) -> Void
    ) -> UnsafeMutablePointer<uv_connect_t> {
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(ConnectRequest(c, endpoint, completion)).toOpaque()
        return req
    }

    static func finish(_ req: UnsafeMutablePointer<uv_connect_t>?, _ status: Int32) {
        let request = Unmanaged<ConnectRequest>.fromOpaque(req!.pointee.data).takeRetainedValue()
        req!.deallocate()
        if status < 0 {
            request.completion(.failure(UVError(code: status, operation: "connect \(request.endpoint)")))
        } else {
            request.completion(.success(()))
        }
    }
}
