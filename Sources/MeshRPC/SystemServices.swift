// SystemServices: the methods every server answers — health, reflection, stats and echo.

public import MeshProto
import MeshWire

/// The built-in methods (proto/PROTOCOL.md §Built-in services). Service ids below 0x0100 are reserved.
public enum SystemServices {
    public static let health = RPCMethod<Alertmesh_V1_HealthCheckRequest, Alertmesh_V1_HealthCheckResponse>(
        service: "_sys.Health", serviceID: 0x0001, name: "Check", methodID: 1, idempotent: true)
    public static let reflectionList = RPCMethod<
        Alertmesh_V1_ReflectionListRequest, Alertmesh_V1_ReflectionListResponse
    >(
        service: "_sys.Reflection", serviceID: 0x0002, name: "List", methodID: 1, idempotent: true)
    public static let stats = RPCMethod<Alertmesh_V1_StatsRequest, Alertmesh_V1_StatsResponse>(
        service: "_sys.Stats", serviceID: 0x0003, name: "Get", methodID: 1, idempotent: true)
    public static let echo = RPCMethod<Alertmesh_V1_EchoRequest, Alertmesh_V1_EchoResponse>(
        service: "_sys.Echo", serviceID: 0x0004, name: "Echo", methodID: 1, idempotent: true)
}

extension RPCServer {
    func registerBuiltins() {
        registerSync(
            SystemServices.health,
            handler: { [unowned self] request, _ throws(RPCError) in
                guard let status = self.servingStatus(service: request.service) else {
                    throw RPCError(.notFound, "unknown service \"\(request.service)\"")
                }
                var r = Alertmesh_V1_HealthCheckResponse()
                r.status = status == .serving ? .serving : .notServing
                if status == .notServing { r.reason = self.notServingReason }
                return r
            })
        registerSync(SystemServices.reflectionList, handler: { [unowned self] _, _ in self.reflection() })
        registerSync(SystemServices.stats, handler: { [unowned self] _, _ in self.statsSnapshot() })
        registerSync(
            SystemServices.echo,
            handler: { request, _ in
                var r = Alertmesh_V1_EchoResponse()
                r.payload = request.payload
                return r
            })
    }

    private func reflection() -> Alertmesh_V1_ReflectionListResponse {
        var r = Alertmesh_V1_ReflectionListResponse()
        r.server = configuration.name
        var byService: [UInt16: Alertmesh_V1_ServiceInfo] = [:]
        for d in methods {
            var info = byService[d.id.service] ?? Alertmesh_V1_ServiceInfo()
            info.name = d.service
            info.id = UInt32(d.id.service)
            var m = Alertmesh_V1_MethodInfo()
            m.name = d.name
            m.fullName = d.fullName
            m.id = d.id.rawValue
            m.requestType = d.requestType
            m.responseType = d.responseType
            m.requestTemplate = MessageSchema.template(for: d.requestType)
            m.responseTemplate = MessageSchema.template(for: d.responseType)
            m.requestSchema = MessageSchema.protoText(for: d.requestType)
            m.responseSchema = MessageSchema.protoText(for: d.responseType)
            m.idempotent = d.idempotent
            info.methods.append(m)
            byService[d.id.service] = info
        }
        r.services = byService.keys.sorted().map { byService[$0]! }
        return r
    }
}
