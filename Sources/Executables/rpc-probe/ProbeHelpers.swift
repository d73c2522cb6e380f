// ProbeHelpers: what the rpc-probe verbs share — waiting on the loop, JSON quoting, tables,
// and splitting a stream of JSON objects.

import ArgumentParser
import Foundation
import Histogram
import MeshLoop
import MeshProto
import MeshRPC
import MeshWire
import SwiftProtobuf

func sleepOnLoop(_ loop: EventLoop, ms: UInt64, _ done: @escaping () -> Void) {
    guard let t = try? LoopTimer(loop: loop) else { return done() }
    t.start(afterMs: ms) {
        t.close()
        done()
    }
}

func jsonQuoted(_ s: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [s], options: [])) ?? Data("[\"\"]".utf8)
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}

func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    var widths = [Int](repeating: 0, count: first.count)
    for r in rows { for (i, cell) in r.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for r in rows {
        print(
            r.enumerated().map { i, cell in
                i == 0
                    ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[i] - cell.count) + cell
            }.joined(separator: "  "))
    }
}

/// Splits concatenated (or newline-separated) JSON objects, as `-d @-` reads them.
enum JSONStream {
    struct SyntaxError: Error, CustomStringConvertible {
        var description: String
    }

    static func split(_ text: String) throws -> [String] {
        var objects: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var current: [UInt8] = []
        for byte in text.utf8 {
            if depth == 0 {
                if byte == UInt8(ascii: " ") || byte == 0x0A || byte == 0x0D || byte == 0x09 { continue }
                guard byte == UInt8(ascii: "{") else {
                    throw SyntaxError(description: "expected '{' to start JSON object \(objects.count + 1)")
                }
            }
            current.append(byte)
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    objects.append(String(decoding: current, as: UTF8.self))
                    current.removeAll()
                }
            default: break
            }
        }
        if depth != 0 || inString { throw SyntaxError(description: "JSON object \(objects.count + 1) is not closed") }
        return objects
    }
}
