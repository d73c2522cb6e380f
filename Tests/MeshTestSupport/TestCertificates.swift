// TestCertificates: a mesh CA and role certificates made by scripts/make-certs (the operator's
// script, so the tests check what operators get), plus the bad ones a test needs: an expired
// certificate and one from another CA.

public import Foundation

public struct TestCertificates: Sendable {
    public let dir: String

    /// The three files of `role` (`worker`, `operator`, …), as --tls-cert, --tls-key, --tls-ca take them.
    public struct Files: Sendable {
        public let cert: String
        public let key: String
        public let ca: String
        /// The options of a command line that presents these files.
        public var arguments: [String] { ["--tls-cert", cert, "--tls-key", key, "--tls-ca", ca] }
    }

    /// Runs scripts/make-certs into `dir` for `roles`.
    public static func make(
        in dir: String, roles: [String] = ["api-service", "worker", "alert-service", "operator"],
        hosts: [String] = []
    ) throws -> TestCertificates {
        let script = repositoryRoot.appendingPathComponent("scripts/make-certs").path
        let r = runProcess(
            "/usr/bin/env", ["bash", script, dir] + roles,
            environment: ["ALERTMESH_CERT_HOSTS": hosts.joined(separator: ",")])
        guard r.status == 0 else { throw CertificateError(message: "make-certs failed: \(r.stderr)") }
        return TestCertificates(dir: dir)
    }

    public func files(_ role: String) -> Files {
        Files(cert: "\(dir)/\(role).pem", key: "\(dir)/\(role).key", ca: "\(dir)/ca.pem")
    }

    /// A certificate for `role` signed by this CA whose validity ended in 2020 (`openssl ca`
    /// sets the dates; `openssl x509` cannot backdate).
    public func makeExpired(role: String) throws -> Files {
        let work = "\(dir)/expired-\(role)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try "".write(toFile: "\(work)/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: "\(work)/serial", atomically: true, encoding: .utf8)
        let config = """
            [ca]
            default_ca = expired
            [expired]
            database = \(work)/index.txt
            new_certs_dir = \(work)
            serial = \(work)/serial
            default_md = sha256
            policy = any
            unique_subject = no
            [any]
            commonName = supplied
            [leaf]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth,clientAuth
            subjectAltName = URI:alertmesh://\(role)

            """
        try config.write(toFile: "\(work)/ca.cnf", atomically: true, encoding: .utf8)
        let key = "\(work)/\(role).key"
        let steps: [[String]] = [
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
            ["req", "-new", "-key", key, "-subj", "/CN=\(role)", "-out", "\(work)/\(role).csr"],
            [
                "ca", "-batch", "-config", "\(work)/ca.cnf", "-extensions", "leaf", "-startdate", "20200101000000Z",
                "-enddate", "20200201000000Z", "-cert", "\(dir)/ca.pem", "-keyfile", "\(dir)/ca.key", "-in",
                "\(work)/\(role).csr", "-out", "\(work)/\(role).pem", "-notext",
            ],
        ]
        for step in steps {
            let r = runProcess("/usr/bin/openssl", step)
            guard r.status == 0 else { throw CertificateError(message: "openssl \(step[0]) failed: \(r.stderr)") }
        }
        return Files(cert: "\(work)/\(role).pem", key: key, ca: "\(dir)/ca.pem")
    }
}

public struct CertificateError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
