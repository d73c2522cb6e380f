// EnvironmentOptionsTests: ALERTMESH_* variables fill in options the command line leaves out.

import ArgumentParser
import MeshLoop
import MeshOptions
import Testing

struct SampleService: ParsableCommand {
    @OptionGroup var common: ServiceOptions
    @Option(help: "Calls at once.") var concurrency: Int = 8
    @Option(name: [.customLong("alert-endpoint")], help: "Where alert-service runs (repeatable).") var alertEndpoints:
        [String] = []
    @Flag(help: "Fsync every write.") var fsyncAlways = false
}

@Suite struct EnvironmentOptionsTests {
    @Test func optionsAreReadFromHelp() {
        let names = Dictionary(
            uniqueKeysWithValues: EnvironmentOptions.options(of: SampleService.self).map { ($0.name, $0) })
        #expect(
            Set(names.keys) == ["listen", "data-dir", "log-level", "concurrency", "alert-endpoint", "fsync-always"])
        #expect(names["listen"]?.repeatable == true)
        #expect(names["alert-endpoint"]?.repeatable == true)
        #expect(names["concurrency"]?.repeatable == false)
        #expect(names["fsync-always"]?.takesValue == false)
        #expect(names["log-level"]?.environmentName == "ALERTMESH_LOG_LEVEL")
    }

    @Test func environmentFillsGapsAndTheCommandLineWins() throws {
        let env = [
            "ALERTMESH_LISTEN": "unix:/tmp/a.sock, tcp://127.0.0.1:7001",
            "ALERTMESH_LOG_LEVEL": "debug",
            "ALERTMESH_CONCURRENCY": "64",
            "ALERTMESH_FSYNC_ALWAYS": "true",
            "UNRELATED": "x",
        ]
        let args = EnvironmentOptions.merge(["--concurrency", "2"], for: SampleService.self, environment: env)
        let parsed = try SampleService.parse(args)
        #expect(parsed.common.listenAddresses == ["unix:/tmp/a.sock", "tcp://127.0.0.1:7001"])
        #expect(parsed.common.logLevel == "debug")
        #expect(parsed.concurrency == 2)
        #expect(parsed.fsyncAlways)
    }

    @Test func badValuesNameTheOption() {
        #expect(
            performing: { _ = try SampleService.parse(["--listen", "nowhere"]) },
            throws: { SampleService.message(for: $0).contains("--listen: \"nowhere\" has no port") })
        #expect(
            performing: { _ = try SampleService.parse(["--log-level", "loud"]) },
            throws: { SampleService.message(for: $0).contains("--log-level: \"loud\" is not one of") })
    }
}

struct SampleLoopUser: ParsableCommand {
    @OptionGroup var loopOptions: LoopOptions
}

@Suite struct LoopOptionsTests {
    @Test func busyPollIsOffUnlessAsked() throws {
        #expect(try SampleLoopUser.parse([]).loopOptions.busyPollUs == 0)
        #expect(try SampleLoopUser.parse(["--busy-poll-us", "50"]).loopOptions.busyPollUs == 50)
        let env = EnvironmentOptions.merge([], for: SampleLoopUser.self, environment: ["ALERTMESH_BUSY_POLL_US": "20"])
        #expect(try SampleLoopUser.parse(env).loopOptions.busyPollUs == 20)
    }

    @Test(arguments: ["--busy-poll-us", "--adaptive-poll-us"])
    func valuesOutOfRangeOrNotNumbersAreRefused(option: String) {
        for bad in ["-1", "100001"] {
            #expect(
                performing: { _ = try SampleLoopUser.parse(["\(option)=\(bad)"]) },
                throws: { SampleLoopUser.message(for: $0).contains("\(option): \(bad) is not between 0 and 100000") })
        }
        #expect(
            performing: { _ = try SampleLoopUser.parse([option, "fast"]) },
            throws: { SampleLoopUser.message(for: $0).contains(option.dropFirst(2)) })
    }

    @Test func adaptivePollIsOnByDefault() throws {
        #expect(try SampleLoopUser.parse([]).loopOptions.adaptivePollUs == 50)
        #expect(try SampleLoopUser.parse(["--adaptive-poll-us", "0"]).loopOptions.adaptivePollUs == 0)
        let env = EnvironmentOptions.merge(
            [], for: SampleLoopUser.self, environment: ["ALERTMESH_ADAPTIVE_POLL_US": "0"])
        #expect(try SampleLoopUser.parse(env).loopOptions.adaptivePollUs == 0)
        // Applied: the loop takes both limits.
        let loop = try EventLoop()
        try SampleLoopUser.parse(["--adaptive-poll-us", "30", "--busy-poll-us", "10"]).loopOptions.apply(to: loop)
        #expect(loop.adaptivePollMicroseconds == 30 && loop.busyPollMicroseconds == 10)
        loop.runUntilHandlesClosed()
        try loop.close()
    }
}
