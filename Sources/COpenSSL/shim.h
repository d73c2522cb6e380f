// COpenSSL: the only door from Swift to OpenSSL 3 (Debian's libssl-dev). Includes plus helpers for
// what OpenSSL spells as macros (SSL_CTX_ctrl calls, stacks), which Swift cannot call.
#ifndef ALERTMESH_COPENSSL_SHIM_H
#define ALERTMESH_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

/// TLS 1.3 and nothing older: both ends of the mesh are ours, no legacy peer needs 1.2.
static inline int COpenSSL_onlyTLS13(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
}

/// Every peer must present a certificate the CA signed; a missing one fails the handshake.
static inline void COpenSSL_requirePeerCertificate(SSL_CTX *ctx) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
}

/// Mesh connections are long-lived and never resumed: no session cache, no tickets (they would
/// cost a record after every handshake), and SSL_write may hand back whatever fits in one go.
static inline void COpenSSL_tuneContext(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
}

/// The first URI subject-alternative-name of `cert` that starts with `prefix`, copied to `out`
/// (NUL-terminated). Returns its length, -1 when there is none, -2 when it does not fit.
static inline int COpenSSL_uriSAN(X509 *cert, const char *prefix, char *out, size_t outlen) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return -1;
    int found = -1;
    size_t plen = strlen(prefix);
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_URI) continue;
        const unsigned char *data = ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(name->d.uniformResourceIdentifier);
        if (len < 0 || (size_t)len < plen || memcmp(data, prefix, plen) != 0) continue;
        if ((size_t)len + 1 > outlen) { found = -2; break; }
        memcpy(out, data, (size_t)len);
        out[len] = 0;
        found = len;
        break;
    }
    GENERAL_NAMES_free(names);
    return found;
}

/// The identity of the peer's verified certificate (see COpenSSL_uriSAN); -3 without a certificate.
static inline int COpenSSL_peerURISAN(SSL *ssl, const char *prefix, char *out, size_t outlen) {
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL) return -3;
    return COpenSSL_uriSAN(cert, prefix, out, outlen);
}

/// Seconds from now until `cert` expires (negative: expired), or INT64_MIN when unreadable.
static inline long long COpenSSL_secondsUntilExpiry(const X509 *cert) {
    int days = 0, secs = 0;
    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert))) return INT64_MIN;
    return (long long)days * 86400 + secs;
}

/// Seconds from now until `cert` becomes valid (positive: not yet valid).
static inline long long COpenSSL_secondsUntilValid(const X509 *cert) {
    int days = 0, secs = 0;
    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(cert))) return INT64_MIN;
    return (long long)days * 86400 + secs;
}

/// The newest queued OpenSSL error as text ("certificate verify failed"), and clears the queue.
static inline void COpenSSL_lastError(char *out, size_t outlen) {
    unsigned long last = 0, e;
    while ((e = ERR_get_error()) != 0) last = e;
    if (last == 0) { if (outlen) out[0] = 0; return; }
    const char *reason = ERR_reason_error_string(last);
    if (reason) { strncpy(out, reason, outlen - 1); out[outlen - 1] = 0; }
    else ERR_error_string_n(last, out, outlen);
}

#endif
