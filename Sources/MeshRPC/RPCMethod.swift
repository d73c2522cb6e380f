// RPCMethod: a method's name, number and message types, shared by servers, clients and tools.

public import MeshWire
public import SwiftProtobuf

/// What a method is, without its implementation: enough to call it, route it and describe it.
public struct MethodDescriptor: Sendable, Hashable {
    /// The service's full name (`alertmesh.v1.AlertService`).
    public let service: String
    /// The method's name within its service (`Analyze`).
    public let name: String
    public let id: MethodID
    /// Protobuf full names of the request and response messages.
    public let requestType: String
    public let responseType: String
    /// Safe to retry after a failure whose outcome is unknown.
    public let idempotent: Bool

    /// `alertmesh.v1.AlertService/Analyze`
    public var fullName: String { service + "/" + name }
}

/// A typed method: the descriptor plus the Swift types of its messages.
///
/// ```swift
/// static let analyze = RPCMethod<AnalyzeRequest, AnalyzeResponse>(
///     service: "alertmesh.v1.AlertService", serviceID: 0x0100, name: "Analyze", methodID: 1)
/// ```
public struct RPCMethod<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>: Sendable {
    public let descriptor: MethodDescriptor

    public init(service: String, serviceID: UInt16, name: String, methodID: UInt16, idempotent: Bool = false) {
        descriptor = MethodDescriptor(
            service: service, name: name, id: MethodID(service: serviceID, method: methodID),
            requestType: Request.protoMessageName, responseType: Response.protoMessageName, idempotent: idempotent)
    }
}
