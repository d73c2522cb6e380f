// MessageSchema: describes protobuf messages from the compiled schema — JSON templates and .proto text.

import MeshProto
import SwiftProtobuf

/// Looks messages up in `MeshProto.Schema`, the descriptor set compiled from proto/alertmesh/v1,
/// so reflection can show a person what to send without the tool knowing the types.
enum MessageSchema {
    typealias MessageDescriptor = Google_Protobuf_DescriptorProto
    typealias Field = Google_Protobuf_FieldDescriptorProto

    /// Every message and enum by full name (`alertmesh.v1.HealthCheckRequest`).
    static let index: (messages: [String: MessageDescriptor], enums: [String: Google_Protobuf_EnumDescriptorProto]) = {
        var messages: [String: MessageDescriptor] = [:]
        var enums: [String: Google_Protobuf_EnumDescriptorProto] = [:]
        guard let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: Schema.descriptorSetBytes) else {
            return ([:], [:])
        }
        func add(_ m: MessageDescriptor, prefix: String) {
            let name = prefix + "." + m.name
            messages[name] = m
            for e in m.enumType { enums[name + "." + e.name] = e }
            for nested in m.nestedType { add(nested, prefix: name) }
        }
        for file in set.file {
            for m in file.messageType { add(m, prefix: file.package) }
            for e in file.enumType { enums[file.package + "." + e.name] = e }
        }
        return (messages, enums)
    }()

    /// The message as JSON with every field at its default (nested messages expanded a few levels).
    static func template(for fullName: String) -> String {
        guard let m = index.messages[fullName] else { return "{}" }
        return object(m, depth: 0)
    }

    private static func object(_ m: MessageDescriptor, depth: Int) -> String {
        if m.field.isEmpty { return "{}" }
        let fields = m.field.map { f in "\"\(f.jsonName)\": \(value(f, depth: depth))" }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private static func value(_ f: Field, depth: Int) -> String {
        let typeName = String(f.typeName.drop { $0 == "." })
        if f.label == .repeated {
            if let entry = index.messages[typeName], entry.options.mapEntry { return "{}" }
            return "[" + scalar(f, typeName: typeName, depth: depth) + "]"
        }
        return scalar(f, typeName: typeName, depth: depth)
    }

    private static func scalar(_ f: Field, typeName: String, depth: Int) -> String {
        switch f.type {
        case .string, .bytes: return "\"\""
        case .bool: return "false"
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: return "\"0\""
        case .enum: return "\"" + (index.enums[typeName]?.value.first?.name ?? "") + "\""
        case .message, .group:
            guard depth < 3, let nested = index.messages[typeName] else { return "{}" }
            return object(nested, depth: depth + 1)
        default: return "0"
        }
    }

    /// The message, and every message of this schema it uses, as .proto text.
    static func protoText(for fullName: String) -> String {
        var seen: Set<String> = []
        var out: [String] = []
        func emit(_ name: String) {
            guard !seen.contains(name), let m = index.messages[name] else { return }
            seen.insert(name)
            var lines = ["message \(name) {"]
            for e in m.enumType {
                lines.append(
                    "  enum \(e.name) { " + e.value.map { "\($0.name) = \($0.number);" }.joined(separator: " ") + " }")
            }
            var uses: [String] = []
            for f in m.field {
                let typeName = String(f.typeName.drop { $0 == "." })
                let label = f.label == .repeated ? "repeated " : ""
                lines.append("  \(label)\(typeText(f, typeName: typeName)) \(f.name) = \(f.number);")
                if f.type == .message { uses.append(typeName) }
            }
            lines.append("}")
            out.append(lines.joined(separator: "\n"))
            for u in uses {
                if let entry = index.messages[u], entry.options.mapEntry {
                    seen.insert(u)
                    entry.field.filter { $0.type == .message }.forEach { emit(String($0.typeName.drop { $0 == "." })) }
                } else {
                    emit(u)
                }
            }
        }
        emit(fullName)
        return out.joined(separator: "\n")
    }

    private static func typeText(_ f: Field, typeName: String) -> String {
        if f.type == .message, let entry = index.messages[typeName], entry.options.mapEntry, entry.field.count == 2 {
            let k = entry.field[0]
            let v = entry.field[1]
            return
                "map<\(typeText(k, typeName: String(k.typeName.drop { $0 == "." }))), \(typeText(v, typeName: String(v.typeName.drop { $0 == "." })))>"
        }
        switch f.type {
        case .message, .enum, .group: return typeName
        case .double: return "double"
        case .float: return "float"
        case .int64: return "int64"
        case .uint64: return "uint64"
        case .int32: return "int32"
        case .fixed64: return "fixed64"
        case .fixed32: return "fixed32"
        case .bool: return "bool"
        case .string: return "string"
        case .bytes: return "bytes"
        case .uint32: return "uint32"
        case .sfixed32: return "sfixed32"
        case .sfixed64: return "sfixed64"
        case .sint32: return "sint32"
        case .sint64: return "sint64"
        }
    }
}
