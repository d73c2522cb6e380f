// AlertServiceMethods: the contract of alertmesh.v1.AlertService — what its clients and server share.

public import MeshProto
public import MeshRPC

/// The alert service's methods: names, ids and message types (from `proto/alertmesh/v1/alert.proto`).
///
/// A caller imports this and the messages, never the service's implementation: the worker needs
/// to know how to call Analyze, not how reports are written.
///
/// ```swift
/// client.call(AlertServiceMethods.analyze, request, timeoutMs: 10_000) { result in … }
/// ```
public enum AlertServiceMethods {
    public static let analyze = RPCMethod<Alertmesh_V1_AnalyzeRequest, Alertmesh_V1_AnalyzeResponse>(
        service: "alertmesh.v1.AlertService", serviceID: 0x0100, name: "Analyze", methodID: 1, idempotent: true)
    /// The newest analyses that raised alerts, from the service's memory (masked findings only).
    public static let recent = RPCMethod<Alertmesh_V1_RecentAlertsRequest, Alertmesh_V1_RecentAlertsResponse>(
        service: "alertmesh.v1.AlertService", serviceID: 0x0100, name: "Recent", methodID: 2, idempotent: true)

    /// Who may call what over TLS: Analyze writes reports (link-once), so only workers; the
    /// recent alerts are for the monitor (api-service) and operators (rpc-probe).
    public static let accessPolicy = AccessPolicy(rules: [
        analyze.descriptor.fullName: ["worker"],
        recent.descriptor.fullName: ["api-service", "operator"],
    ])
}
