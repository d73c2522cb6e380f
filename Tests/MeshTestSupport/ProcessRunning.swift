// ProcessRunning: run a program to its end and keep what it printed.

public import Foundation

/// What a finished program left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `path` with `arguments` until it exits. The environment is the test's, without any
/// `ALERTMESH_*` variable (so a developer's settings cannot leak in), plus `environment`.
public func runProcess(_ path: String, _ arguments: [String], environment: [String: String] = [:]) -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }.merging(
        environment
    ) { $1 }
    // stderr goes to a file, so neither stream can fill up while the other is read.
    let errPath = NSTemporaryDirectory() + "alertmesh-stderr-\(UUID().uuidString.prefix(8))"
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: errPath)
    do {
        try p.run()
    } catch {
        return ProcessResult(status: -1, stdout: "", stderr: "cannot run \(path): \(error)")
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let errData = FileManager.default.contents(atPath: errPath) ?? Data()
    return ProcessResult(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Starts `path` with `stdin` as its whole input (then end of file), its output discarded; the
/// caller waits for it (`isRunning`) while its own loop runs, and terminates it if need be.
public func startProcess(_ path: String, _ arguments: [String], stdin: [UInt8]) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let input = Pipe()
    p.standardInput = input
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    input.fileHandleForWriting.write(Data(stdin))
    try input.fileHandleForWriting.close()
    return p
}
