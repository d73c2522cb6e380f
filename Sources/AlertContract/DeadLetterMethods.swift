// DeadLetterMethods: the contract of alertmesh.v1.DeadLetters, served by every worker — what
// rpc-probe and api-service's monitor call to list and re-drive dead letters.

public import MeshProto
public import MeshRPC

/// The methods of `alertmesh.v1.DeadLetters` (proto/alertmesh/v1/worker.proto).
public enum DeadLetterMethods {
    public static let list = RPCMethod<Alertmesh_V1_ListDeadLettersRequest, Alertmesh_V1_ListDeadLettersResponse>(
        service: "alertmesh.v1.DeadLetters", serviceID: 0x0200, name: "List", methodID: 1, idempotent: true)
    /// Idempotent too: a second re-drive of the same tasks finds no dead letter and changes nothing.
    public static let redrive = RPCMethod<Alertmesh_V1_RedriveRequest, Alertmesh_V1_RedriveResponse>(
        service: "alertmesh.v1.DeadLetters", serviceID: 0x0200, name: "Redrive", methodID: 2, idempotent: true)

    /// Who may call what over TLS: dead letters hold masked messages and re-driving changes the
    /// queue, so operators (rpc-probe) and the monitor (api-service, its own --monitor-admin
    /// deciding whether the page may re-drive).
    public static let accessPolicy = AccessPolicy(rules: ["alertmesh.v1.DeadLetters/*": ["operator", "api-service"]])
}
