// stepca.hpp: a header-only C++17 wrapper over libstepca's C API.
//
// Owners free exactly once (move-only RAII), failures throw stepca::Error carrying the
// code, HTTP status, step-ca's message, what the CA sent and the measured clock skew, and
// callbacks (token provider, time source, external signer, renewer events and new keys)
// are std::functions that no exception ever escapes from. Times are UNIX seconds (int64_t), durations std::chrono.
// Link with -lstepca (pkg-config: stepca; CMake: stepca::stepca).
//
// Deliberately unwrapped (checked by scripts/check-bindings.py):
// (none: every function stepca.h declares is used here)
#ifndef STEPCA_HPP
#define STEPCA_HPP

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "stepca.h"

namespace stepca {

// A libstepca failure.
class Error : public std::runtime_error {
 public:
  Error(stepca_status code, std::string message, int http_status, std::string ca_message, std::string received,
        std::optional<std::chrono::seconds> clock_skew = std::nullopt)
      : std::runtime_error(message), code_(code), http_status_(http_status), ca_message_(std::move(ca_message)),
        received_(std::move(received)), clock_skew_(clock_skew) {}
  // The status code (STEPCA_ERR_*).
  stepca_status code() const noexcept { return code_; }
  // The HTTP status step-ca answered with, or 0.
  int http_status() const noexcept { return http_status_; }
  // step-ca's own message, or "".
  const std::string &ca_message() const noexcept { return ca_message_; }
  // What step-ca sent when its answer failed libstepca's checks, or "".
  const std::string &received() const noexcept { return received_; }
  // How far the client's clock was from the CA's (positive: ahead), measured from the Date
  // of the CA's answer; empty when the failure came without an answer. Beyond step-ca's
  // 60 s leeway what() says so too ("... is 600 s ahead of the CA's ...").
  const std::optional<std::chrono::seconds> &clock_skew() const noexcept { return clock_skew_; }

 private:
  stepca_status code_;
  int http_status_;
  std::string ca_message_, received_;
  std::optional<std::chrono::seconds> clock_skew_;
};

namespace detail {

template <typename T, void (*Free)(T *)>
struct Deleter {
  void operator()(T *p) const noexcept { Free(p); }
};

// An Error copied from a (borrowed) error object for a failure with status `st`.
inline Error error_from(stepca_status st, const stepca_error *err) {
  std::string msg = err ? stepca_error_message(err) : stepca_status_str(static_cast<int>(st));
  int http = err ? stepca_error_http_status(err) : 0;
  std::string ca = err && stepca_error_ca_message(err) ? stepca_error_ca_message(err) : "";
  std::string rec = err && stepca_error_received(err) ? stepca_error_received(err) : "";
  std::optional<std::chrono::seconds> skew;
  int64_t skew_seconds = 0;
  if (err && stepca_error_clock_skew(err, &skew_seconds)) skew = std::chrono::seconds(skew_seconds);
  return Error(st, msg, http, ca, rec, skew);
}

// Throws for a failed status, taking (and freeing) the error object.
inline void check(stepca_status st, stepca_error *err) {
  std::unique_ptr<stepca_error, Deleter<stepca_error, stepca_error_free>> owned(err);
  if (st != STEPCA_OK) throw error_from(st, err);
}

// Calls a fallible C function whose last argument is `stepca_error **`.
template <typename F>
void call(F &&f) {
  stepca_error *err = nullptr;
  // Two statements: argument evaluation order would otherwise be unspecified.
  stepca_status st = f(&err);
  check(st, err);
}

// Takes a library buffer into a std::string (binary-safe) and frees it (wiped).
inline std::string take(uint8_t *p, size_t n) {
  std::string out(reinterpret_cast<const char *>(p), n);
  stepca_free(p);
  return out;
}

}  // namespace detail

// The library's version, e.g. "0.1.0".
inline std::string version() { return stepca_version(); }

// MAJOR * 1000000 + MINOR * 1000 + PATCH of the library linked at run time; differs from
// STEPCA_VERSION_NUMBER when the header does not match the library.
inline uint32_t version_number() noexcept { return stepca_version_number(); }

// What this build supports, as JSON: {"key_algs":[...],"sig_algs":[...],"san_types":[...],
// "features":[...]}.
inline std::string capabilities() { return stepca_capabilities(); }

// Whether `name` (e.g. "EC-P384", "ECDSA-P384-SHA384", "uri", "sign") is in capabilities().
inline bool supports(const std::string &name) noexcept { return stepca_supports(name.c_str()); }

// A password or passphrase file's contents as `step` reads its --password-file: without
// trailing white space (the newline an editor leaves), leading white space kept. Throws
// Error (STEPCA_ERR_IO naming the path).
inline std::string read_password_file(const std::string &path) {
  uint8_t *buf = nullptr;
  size_t len = 0;
  detail::call([&](stepca_error **e) { return stepca_read_password_file(path.c_str(), &buf, &len, e); });
  return detail::take(buf, len);
}

// How severe a log record is; as a maximum, the most detailed records passed on.
enum class LogLevel : stepca_log_level {
  Off = STEPCA_LOG_OFF,
  Error = STEPCA_LOG_ERROR,
  Warn = STEPCA_LOG_WARN,
  Info = STEPCA_LOG_INFO,
  Debug = STEPCA_LOG_DEBUG,
  Trace = STEPCA_LOG_TRACE,
};

// Receives a log record: level, where from (`stepca::http`, `stepca::renewer`, `rustls::...`,
// `ureq::...`, `cryptoki::...`) and the message. Called on whichever thread logs, possibly on
// several at once; it must not call set_log_callback. An exception it throws is dropped.
// No record holds a token, key, password or PIN.
using LogFunction = std::function<void(LogLevel, const std::string &target, const std::string &message)>;

namespace detail {
// The C callback: runs the std::function, never lets an exception cross into C.
inline void log_trampoline(void *user_data, stepca_log_level level, const char *target, const char *message) noexcept {
  try {
    (*static_cast<const LogFunction *>(user_data))(static_cast<LogLevel>(level), target, message);
  } catch (...) {
  }
}
}  // namespace detail

// Sends the records up to `max` (the library's own, rustls's, ureq's, cryptoki's) to `f`, for
// the whole process; an empty `f` or LogLevel::Off stops logging. Every function given is
// kept until the process exits: a record may still be on its way to the previous one.
inline void set_log_callback(LogLevel max, LogFunction f) {
  static std::mutex mu;
  // Never freed (see above); reachable through this pointer until exit.
  static auto *kept = new std::vector<std::unique_ptr<const LogFunction>>();
  std::lock_guard<std::mutex> lock(mu);
  if (!f || max == LogLevel::Off) {
    detail::call([&](stepca_error **e) { return stepca_set_log_callback(STEPCA_LOG_OFF, nullptr, nullptr, e); });
    return;
  }
  kept->push_back(std::make_unique<const LogFunction>(std::move(f)));
  void *user_data = const_cast<LogFunction *>(kept->back().get());
  detail::call([&](stepca_error **e) {
    return stepca_set_log_callback(static_cast<stepca_log_level>(max), detail::log_trampoline, user_data, e);
  });
}

// Key types to generate.
enum class KeyType : stepca_key_type {
  Rsa2048 = STEPCA_KEY_RSA_2048,
  Rsa3072 = STEPCA_KEY_RSA_3072,
  Rsa4096 = STEPCA_KEY_RSA_4096,
  EcP256 = STEPCA_KEY_EC_P256,
  EcP384 = STEPCA_KEY_EC_P384,
  Ed25519 = STEPCA_KEY_ED25519,
};

// A private key held by libstepca. Immutable; share it freely between threads.
class Key {
 public:
  static Key load(const std::string &pem_or_der, const char *passphrase = nullptr) {
    stepca_key *k = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_key_load(reinterpret_cast<const uint8_t *>(pem_or_der.data()), pem_or_der.size(), passphrase, &k, e);
    });
    return Key(k);
  }
  static Key generate(KeyType type) {
    stepca_key *k = nullptr;
    detail::call([&](stepca_error **e) { return stepca_key_generate(static_cast<stepca_key_type>(type), &k, e); });
    return Key(k);
  }
  // PKCS#8 PEM. Wipe it when done.
  std::string pem() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_key_to_pem(get(), &p, &n, e); });
    return detail::take(p, n);
  }
  stepca_key_alg algorithm() const noexcept { return stepca_key_algorithm(get()); }
  size_t bits() const noexcept { return stepca_key_bits(get()); }
  const stepca_key *get() const noexcept { return ptr_.get(); }

 private:
  friend class Credential;
  friend class Renewer;
  explicit Key(stepca_key *k) : ptr_(k) {}
  std::unique_ptr<stepca_key, detail::Deleter<stepca_key, stepca_key_free>> ptr_;
};

// What a CSR says; setters return *this for chaining.
class CsrRequest {
 public:
  CsrRequest() {
    stepca_csr_request *r = nullptr;
    detail::call([&](stepca_error **e) { return stepca_csr_request_new(&r, e); });
    ptr_.reset(r);
  }
  CsrRequest &subject(const std::string &name, const std::string &value) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_add_subject(ptr_.get(), name.c_str(), value.c_str(), e); });
    return *this;
  }
  CsrRequest &san(stepca_san_type type, const std::string &value) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_add_san(ptr_.get(), type, value.c_str(), e); });
    return *this;
  }
  CsrRequest &dns(const std::string &v) { return san(STEPCA_SAN_DNS, v); }
  CsrRequest &ip(const std::string &v) { return san(STEPCA_SAN_IP, v); }
  CsrRequest &email(const std::string &v) { return san(STEPCA_SAN_EMAIL, v); }
  CsrRequest &uri(const std::string &v) { return san(STEPCA_SAN_URI, v); }
  CsrRequest &ext_key_usage(const std::string &purpose) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_add_ext_key_usage(ptr_.get(), purpose.c_str(), e); });
    return *this;
  }
  CsrRequest &key_usage(uint32_t bits) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_set_key_usage(ptr_.get(), bits, e); });
    return *this;
  }
  CsrRequest &basic_constraints(bool ca, int32_t path_len = -1) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_set_basic_constraints(ptr_.get(), ca, path_len, e); });
    return *this;
  }
  CsrRequest &challenge_password(const std::string &pw) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_set_challenge_password(ptr_.get(), pw.c_str(), e); });
    return *this;
  }
  CsrRequest &signature_algorithm(stepca_sig_alg alg) {
    detail::call([&](stepca_error **e) { return stepca_csr_request_set_signature_algorithm(ptr_.get(), alg, e); });
    return *this;
  }
  // Any other extension, by dotted OID, with its DER-encoded value.
  CsrRequest &extension(const std::string &oid, bool critical, const std::string &der_value) {
    detail::call([&](stepca_error **e) {
      return stepca_csr_request_add_extension(ptr_.get(), oid.c_str(), critical,
                                              reinterpret_cast<const uint8_t *>(der_value.data()), der_value.size(), e);
    });
    return *this;
  }
  const stepca_csr_request *get() const noexcept { return ptr_.get(); }

  // Builds and signs the CSR with `key`: PEM (default) or DER bytes.
  std::string build(const Key &key, stepca_format format = STEPCA_FORMAT_PEM) const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_create_csr(key.get(), ptr_.get(), format, &p, &n, e); });
    return detail::take(p, n);
  }

 private:
  std::unique_ptr<stepca_csr_request, detail::Deleter<stepca_csr_request, stepca_csr_request_free>> ptr_;
};

// Signs a message with a key libstepca never sees (HSM, TPM, secure element); returns a
// DER ECDSA-Sig-Value for ECDSA, the PKCS#1 v1.5 signature for RSA, 64 bytes for Ed25519.
// Throw to fail the call (STEPCA_ERR_SIGNER). It only ever signs with the key's own
// algorithm, which is all CSRs and tokens need, and all mutual TLS needs for ECDSA and
// Ed25519 keys; an RSA key in a TLS 1.3 handshake must sign RSA-PSS instead, so for RSA
// mutual TLS (Credential with STEPCA_RENEW_MTLS, rekey, revoke with the certificate) use
// AlgSignFunction. Asked for another algorithm, the ExternalKey fails the call with
// STEPCA_ERR_SIGNER without calling it.
using SignFunction = std::function<std::string(const std::string &message)>;

// Signs `message` with `alg` (STEPCA_SIG_*): the key's own algorithm for CSRs and tokens,
// the scheme the handshake needs during mutual TLS (STEPCA_SIG_RSA_PSS_SHA256 for an RSA
// key under TLS 1.3: RSASSA-PSS, MGF1 with the same hash, salt as long as the hash).
// Returns the signature in the formats SignFunction does (the PSS signature for PSS).
// Throw to fail the call (STEPCA_ERR_SIGNER).
using AlgSignFunction = std::function<std::string(stepca_sig_alg alg, const std::string &message)>;

namespace detail {
inline int sign_trampoline(void *user_data, const uint8_t *data, size_t len, stepca_signature_sink *sink) {
  const auto &fn = *static_cast<const AlgSignFunction *>(user_data);
  try {
    std::string sig = fn(stepca_signature_sink_algorithm(sink), std::string(reinterpret_cast<const char *>(data), len));
    return stepca_signature_sink_set(sink, reinterpret_cast<const uint8_t *>(sig.data()), sig.size(), nullptr) == STEPCA_OK
               ? 0
               : 1;
  } catch (const std::exception &ex) {
    stepca_signature_sink_set_error(sink, ex.what(), nullptr);
    return 1;
  } catch (...) {
    stepca_signature_sink_set_error(sink, "signer threw", nullptr);
    return 1;
  }
}

// A message-only sign function, asked only for the key's own algorithm `own`.
inline AlgSignFunction with_own_alg(stepca_sig_alg own, SignFunction sign) {
  return [own, sign = std::move(sign)](stepca_sig_alg alg, const std::string &message) -> std::string {
    if (alg != own)
      throw std::runtime_error("asked for signature algorithm " + std::to_string(alg) + " but the sign function signs only " +
                               std::to_string(own) + " (the key's own); give ExternalKey an AlgSignFunction");
    return sign(message);
  };
}
}  // namespace detail

class Credential;
class Renewer;

// A key held elsewhere: its public key (SubjectPublicKeyInfo, DER or PEM), the algorithm it
// signs with, and the function that signs.
class ExternalKey {
 public:
  ExternalKey(const std::string &public_key, stepca_sig_alg alg, SignFunction sign)
      : ExternalKey(public_key, alg, detail::with_own_alg(alg, std::move(sign))) {}
  // The sign function learns the algorithm each signature needs: required for RSA keys
  // over mutual TLS.
  ExternalKey(const std::string &public_key, stepca_sig_alg alg, AlgSignFunction sign)
      : sign_(std::make_shared<const AlgSignFunction>(std::move(sign))) {
    stepca_external_key *k = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_external_key_new(reinterpret_cast<const uint8_t *>(public_key.data()), public_key.size(), alg,
                                     detail::sign_trampoline, const_cast<AlgSignFunction *>(sign_.get()), &k, e);
    });
    ptr_.reset(k);
  }
  // The key pair labelled `label` in a PKCS#11 token (the private key stays there).
  static ExternalKey pkcs11_open(const std::string &module, const std::string &token, const std::string &pin,
                                 const std::string &label) {
    stepca_external_key *k = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_pkcs11_key_open(module.c_str(), token.c_str(), pin.c_str(), label.c_str(), &k, e);
    });
    return ExternalKey(k);
  }
  // The key an RFC 7512 PKCS#11 URI names, as step's --kms takes it:
  // "pkcs11:token=<token label>;object=<key label>?module-path=<module>&pin-source=file:<path>"
  // (id= instead of object=; pin-value=<PIN> instead of pin-source=). A malformed URI throws
  // STEPCA_ERR_INVALID_ARGUMENT naming "uri"; a module, token or key it names that is not
  // there fails as pkcs11_open does (a wrong PIN: STEPCA_ERR_KEY_PASSPHRASE).
  static ExternalKey pkcs11_open_uri(const std::string &uri) {
    stepca_external_key *k = nullptr;
    detail::call([&](stepca_error **e) { return stepca_pkcs11_key_open_uri(uri.c_str(), &k, e); });
    return ExternalKey(k);
  }
  // A new non-extractable key pair generated inside the token.
  static ExternalKey pkcs11_generate(const std::string &module, const std::string &token, const std::string &pin,
                                     const std::string &label, KeyType type) {
    stepca_external_key *k = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_pkcs11_key_generate(module.c_str(), token.c_str(), pin.c_str(), label.c_str(),
                                        static_cast<stepca_key_type>(type), &k, e);
    });
    return ExternalKey(k);
  }
  // The public key (DER SubjectPublicKeyInfo).
  std::string public_key() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_external_key_public_key(get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // A CSR for `request`, signed through the sign function.
  std::string csr(const CsrRequest &request, stepca_format format = STEPCA_FORMAT_PEM) const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_create_csr_external(get(), request.get(), format, &p, &n, e); });
    return detail::take(p, n);
  }
  // PKCS#11 keys only: signs a `digest` the caller computed with the hash `alg` names
  // (STEPCA_SIG_*): a DER signature for ECDSA, PKCS#1 v1.5 or PSS (salt as long as the
  // hash) for RSA. A key with a sign function throws STEPCA_ERR_INVALID_ARGUMENT ("key").
  std::string sign_digest(stepca_sig_alg alg, const std::string &digest) const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) {
      return stepca_pkcs11_key_sign_digest(get(), alg, reinterpret_cast<const uint8_t *>(digest.data()), digest.size(), &p,
                                           &n, e);
    });
    return detail::take(p, n);
  }
  const stepca_external_key *get() const noexcept { return ptr_.get(); }

 private:
  friend class Credential;
  friend class Renewer;
  explicit ExternalKey(stepca_external_key *k) : ptr_(k) {}
  // Declared first so it outlives the C key that points to it; shared with the
  // credentials made from this key, which the C side lets outlive it.
  std::shared_ptr<const AlgSignFunction> sign_;
  std::unique_ptr<stepca_external_key, detail::Deleter<stepca_external_key, stepca_external_key_free>> ptr_;
};

// A leaf's validity, in UNIX seconds.
struct Validity {
  int64_t not_before = 0, not_after = 0;
};

// An issued certificate and its intermediates.
class Chain {
 public:
  static Chain load(const std::string &pem) {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_chain_load(reinterpret_cast<const uint8_t *>(pem.data()), pem.size(), &c, e);
    });
    return Chain(c);
  }
  size_t size() const noexcept { return stepca_chain_count(get()); }
  // Certificate `index` (0 is the leaf) as PEM or DER.
  std::string certificate(size_t index, stepca_format format = STEPCA_FORMAT_PEM) const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_chain_get(get(), index, format, &p, &n, e); });
    return detail::take(p, n);
  }
  // The whole chain as PEM, leaf first.
  std::string pem() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_chain_pem(get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // The leaf's serial number in decimal.
  std::string serial() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_chain_serial(get(), &p, &n, e); });
    return detail::take(p, n);
  }
  Validity validity() const {
    Validity v;
    detail::call([&](stepca_error **e) { return stepca_chain_validity(get(), &v.not_before, &v.not_after, e); });
    return v;
  }
  // When to renew the leaf (UNIX seconds).
  int64_t renew_after() const {
    int64_t t = 0;
    detail::call([&](stepca_error **e) { return stepca_chain_renew_after(get(), &t, e); });
    return t;
  }
  const stepca_chain *get() const noexcept { return ptr_.get(); }

 private:
  friend class Client;
  friend class Credential;
  friend class Renewer;
  explicit Chain(stepca_chain *c) : ptr_(c) {}
  std::unique_ptr<stepca_chain, detail::Deleter<stepca_chain, stepca_chain_free>> ptr_;
};

// A certificate chain with its key, to authenticate to step-ca over mutual TLS (renew,
// rekey, revoke). Immutable and move-only. It shares the chain and key, which may be
// destroyed before it (a held key's sign function is kept alive with the credential).
class Credential {
 public:
  // From a key in memory; throws STEPCA_ERR_INVALID_ARGUMENT ("key") when the key is not
  // the leaf's.
  Credential(const Chain &chain, const Key &key) {
    stepca_credential *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_credential_new(chain.get(), key.get(), &c, e); });
    ptr_.reset(c);
  }
  // From a held key (sign function or PKCS#11): the private key signs every handshake.
  // Throws STEPCA_ERR_INVALID_ARGUMENT when the key is not the leaf's. For an RSA key
  // with a sign function, give it an AlgSignFunction: TLS 1.3 asks for RSA-PSS.
  Credential(const Chain &chain, const ExternalKey &key) : sign_(key.sign_) {
    stepca_credential *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_credential_new_external(chain.get(), key.get(), &c, e); });
    ptr_.reset(c);
  }
  // The credential's chain.
  Chain chain() const {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_credential_chain(get(), &c, e); });
    return Chain(c);
  }
  // The credential's key when it is in memory (after a Renewer's rekey, the new one).
  // A held key never leaves its device: throws STEPCA_ERR_INVALID_ARGUMENT naming
  // `credential`.
  Key key() const {
    stepca_key *k = nullptr;
    detail::call([&](stepca_error **e) { return stepca_credential_key(get(), &k, e); });
    return Key(k);
  }
  const stepca_credential *get() const noexcept { return ptr_.get(); }

 private:
  friend class X5cProvisioner;
  friend class Renewer;
  // A C credential whose held key's sign function (if any) `sign` keeps alive.
  Credential(stepca_credential *c, std::shared_ptr<const AlgSignFunction> sign) : sign_(std::move(sign)), ptr_(c) {}
  // Declared first: the C credential may call it until freed. For a credential from a
  // Renewer it points to nothing but owns every sign function the renewer was given.
  std::shared_ptr<const AlgSignFunction> sign_;
  std::unique_ptr<stepca_credential, detail::Deleter<stepca_credential, stepca_credential_free>> ptr_;
};

// What the token provider is told.
struct Claims {
  std::string subject, audience, provisioner;
  std::vector<std::string> sans, dns, ips, emails, uris;
  stepca_token_purpose purpose = STEPCA_TOKEN_SIGN;
  // The client's time in UNIX seconds (its time source, or the CA's clock in CA-time
  // mode): base a minted token's iat, nbf and exp on it, not on the system clock.
  int64_t now = 0;
  // For a sign token, the CSR's fingerprint: SHA-256 of its DER, base64url without
  // padding; empty for revoke tokens. A token carrying it as
  // "cnf":{"x5rt#S256":"<fingerprint>"} is accepted by step-ca for this CSR only.
  std::string csr_fingerprint;
  // The notAfter the call requests (UNIX seconds), or 0 when it requests none.
  int64_t not_after = 0;
};

// Returns the one-time token for `claims`; throw to fail the call.
using TokenProvider = std::function<std::string(const Claims &)>;

namespace detail {
inline std::vector<std::string> strings(const char *const *p, size_t n) {
  return std::vector<std::string>(p, p + n);
}

// The C callback: runs the std::function, never lets an exception cross into C.
inline int provider_trampoline(void *user_data, const stepca_token_claims *c, stepca_token_sink *sink) {
  const auto &fn = *static_cast<const TokenProvider *>(user_data);
  try {
    Claims claims{c->subject, c->audience, c->provisioner ? c->provisioner : "",
                  strings(c->sans, c->sans_len), strings(c->dns, c->dns_len), strings(c->ips, c->ips_len),
                  strings(c->emails, c->emails_len), strings(c->uris, c->uris_len), c->purpose, c->now,
                  c->csr_fingerprint ? c->csr_fingerprint : "", c->not_after};
    std::string token = fn(claims);
    return stepca_token_sink_set(sink, token.data(), token.size(), nullptr) == STEPCA_OK ? 0 : 1;
  } catch (const std::exception &ex) {
    stepca_token_sink_set_error(sink, ex.what(), nullptr);
    return 1;
  } catch (...) {
    stepca_token_sink_set_error(sink, "token provider threw", nullptr);
    return 1;
  }
}
}  // namespace detail

// Returns the current time in UNIX seconds, for a client that must not trust the system
// clock (no RTC, not yet synchronised). It is called on whichever thread needs the time,
// possibly on several at once, so it must be cheap and thread-safe, and must not call
// libstepca. If it throws, that reading falls back to the system clock.
using TimeSource = std::function<int64_t()>;

namespace detail {
inline int64_t system_now() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The C callback: runs the std::function, never lets an exception cross into C.
inline int64_t time_trampoline(void *user_data) noexcept {
  try {
    return (*static_cast<const TimeSource *>(user_data))();
  } catch (...) {
    return system_now();
  }
}

// The callbacks a client's C object points to; the client keeps them alive.
struct Callbacks {
  std::shared_ptr<const TokenProvider> provider;
  std::shared_ptr<const TimeSource> time;
  // The sign function of an X5C provisioner's factory key, whose C key the client shares.
  std::shared_ptr<const AlgSignFunction> x5c_sign;
};
}  // namespace detail

class Client;

// A JWK provisioner whose key was decrypted once, to mint tokens in process. Clients it is
// given to share it, so it may be destroyed before them.
class JwkProvisioner {
 public:
  // Fetches the JWK provisioner `name` from the CA and decrypts its key with `password`
  // (wrong: STEPCA_ERR_KEY_PASSPHRASE). `kid` is needed only when several share the name.
  static JwkProvisioner fetch(const Client &client, const std::string &name, const std::string &password,
                              const std::string &kid = {});
  // Loads one offline from a ca.json provisioner entry (`name` may be empty), or from an
  // encrypted JWK (compact JWE, or JWE JSON as `step crypto jwk create` writes it), whose
  // `name` is required.
  static JwkProvisioner load(const std::string &data, const std::string &password, const std::string &name = {}) {
    stepca_jwk_provisioner *p = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_jwk_provisioner_load(reinterpret_cast<const uint8_t *>(data.data()), data.size(),
                                         name.empty() ? nullptr : name.c_str(), password.c_str(), &p, e);
    });
    return JwkProvisioner(p);
  }
  // Sets the lifetime of minted tokens (10 s to 1 h; default 5 min). Not while a client
  // uses the provisioner (STEPCA_ERR_INVALID_ARGUMENT naming `provisioner`).
  JwkProvisioner &lifetime(std::chrono::seconds s) {
    // Out of range stays out of range rather than wrapping into it.
    uint32_t seconds = s.count() < 0 || s.count() > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(s.count());
    detail::call([&](stepca_error **e) { return stepca_jwk_provisioner_set_lifetime(ptr_.get(), seconds, e); });
    return *this;
  }
  // A sign token for `subject` and `sans` (in step's form) with `audience`, e.g.
  // "https://ca:9000/1.0/sign". Its times come from the system clock; a client given the
  // provisioner mints with its own clock instead.
  std::string sign_token(const std::string &subject, const std::vector<std::string> &sans,
                         const std::string &audience) const {
    std::vector<const char *> list;
    for (const auto &s : sans) list.push_back(s.c_str());
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) {
      return stepca_jwk_provisioner_sign_token(get(), subject.c_str(), list.data(), list.size(), audience.c_str(), &p,
                                               &n, e);
    });
    return detail::take(p, n);
  }
  // A revoke token for the certificate with decimal `serial`, for `audience`, e.g.
  // "https://ca:9000/1.0/revoke". Its times come from the system clock.
  std::string revoke_token(const std::string &serial, const std::string &audience) const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) {
      return stepca_jwk_provisioner_revoke_token(get(), serial.c_str(), audience.c_str(), &p, &n, e);
    });
    return detail::take(p, n);
  }
  const stepca_jwk_provisioner *get() const noexcept { return ptr_.get(); }

 private:
  explicit JwkProvisioner(stepca_jwk_provisioner *p) : ptr_(p) {}
  std::unique_ptr<stepca_jwk_provisioner, detail::Deleter<stepca_jwk_provisioner, stepca_jwk_provisioner_free>> ptr_;
};

// An X5C provisioner: tokens signed in process by a device's factory credential (its birth
// certificate, an IDevID, with the key in memory, behind a sign function or in a PKCS#11
// token), which step-ca's X5C provisioner trades for an operational certificate. Clients
// it is given to share it (and the factory key's sign function), so it may be destroyed
// before them. Move-only.
class X5cProvisioner {
 public:
  // The X5C provisioner `name` at the CA whose tokens `factory` signs (birth certificate
  // first, then the factory intermediates). A birth certificate step-ca would refuse
  // throws STEPCA_ERR_INVALID_ARGUMENT naming `factory`: no digitalSignature in its
  // keyUsage, or an extendedKeyUsage without clientAuth. When a token is made, one expired
  // at the client's time throws naming `factory`, one not valid yet STEPCA_ERR_CLOCK, and a
  // requested not_after past its notAfter (step-ca caps the lifetime there) naming
  // `not_after`. Sign tokens are bound to their CSR. `factory` is shared, not consumed.
  X5cProvisioner(const std::string &name, const Credential &factory) : sign_(factory.sign_) {
    stepca_x5c_provisioner *p = nullptr;
    detail::call([&](stepca_error **e) { return stepca_x5c_provisioner_new(name.c_str(), factory.get(), &p, e); });
    ptr_.reset(p);
  }
  // Sets the lifetime of its tokens (10 s to 1 h; default 5 min). Refused while a builder,
  // client or call holds it (STEPCA_ERR_INVALID_ARGUMENT naming `provisioner`).
  X5cProvisioner &lifetime(std::chrono::seconds s) {
    // Out of range stays out of range rather than wrapping into it.
    uint32_t seconds = s.count() < 0 || s.count() > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(s.count());
    detail::call([&](stepca_error **e) { return stepca_x5c_provisioner_set_lifetime(ptr_.get(), seconds, e); });
    return *this;
  }
  const stepca_x5c_provisioner *get() const noexcept { return ptr_.get(); }

 private:
  friend class Client;
  // Declared first: the C provisioner shares the factory's key, which may call it.
  std::shared_ptr<const AlgSignFunction> sign_;
  std::unique_ptr<stepca_x5c_provisioner, detail::Deleter<stepca_x5c_provisioner, stepca_x5c_provisioner_free>> ptr_;
};

// Options for one sign call. The token is `token`, else the one from `token_provider`,
// `jwk_provisioner` or `x5c_provisioner` (set at most one), else the client's provider's.
struct SignOptions {
  std::string token;                                // empty: use a provider
  TokenProvider token_provider;                     // instead of the client's; empty: none
  const JwkProvisioner *jwk_provisioner = nullptr;  // instead of the client's provider; not owned
  const X5cProvisioner *x5c_provisioner = nullptr;  // instead of the client's provider; not owned
  int64_t not_before = 0, not_after = 0;            // UNIX seconds; 0: step-ca's default
  std::string template_data;                        // JSON; empty: none
};

// Options for one revocation. A revocation by serial takes its token from `token`, else
// from `token_provider`, `jwk_provisioner` or `x5c_provisioner` (set at most one), else
// from the client's provider; one authenticated with the certificate needs none.
struct RevokeOptions {
  uint32_t reason_code = 0;                         // RFC 5280, 0 to 10
  std::string reason;                               // free text; empty: none
  std::string token;                                // empty: use a provider
  TokenProvider token_provider;                     // asked with purpose STEPCA_TOKEN_REVOKE
  const JwkProvisioner *jwk_provisioner = nullptr;  // not owned
  const X5cProvisioner *x5c_provisioner = nullptr;  // not owned
};

// A step-ca client. Thread-safe; keeps its connections alive. Move-only.
class Client {
 public:
  class Builder {
   public:
    explicit Builder(const std::string &ca_url) {
      stepca_client_builder *b = nullptr;
      detail::call([&](stepca_error **e) { return stepca_client_builder_new(ca_url.c_str(), &b, e); });
      ptr_.reset(b);
    }
    Builder &root_file(const std::string &path) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_root_file(ptr_.get(), path.c_str(), e); });
      return *this;
    }
    Builder &root_pem(const std::string &pem) {
      detail::call([&](stepca_error **e) {
        return stepca_client_builder_set_root_pem(ptr_.get(), reinterpret_cast<const uint8_t *>(pem.data()), pem.size(), e);
      });
      return *this;
    }
    Builder &root_fingerprint(const std::string &fp) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_root_fingerprint(ptr_.get(), fp.c_str(), e); });
      return *this;
    }
    // Allows a plain http:// CA URL, refused by default.
    Builder &allow_insecure_http(bool allow = true) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_allow_insecure_http(ptr_.get(), allow, e); });
      return *this;
    }
    // Turns TLS server verification OFF, for tests only: anyone on the network path can
    // then read tokens. Issued chains are still checked against a configured root.
    Builder &dangerous_disable_tls_verification() {
      detail::call(
          [&](stepca_error **e) { return stepca_client_builder_dangerous_disable_tls_verification(ptr_.get(), e); });
      return *this;
    }
    Builder &timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds call) {
      detail::call([&](stepca_error **e) {
        return stepca_client_builder_set_timeouts(ptr_.get(), static_cast<uint64_t>(connect.count()),
                                                  static_cast<uint64_t>(call.count()), e);
      });
      return *this;
    }
    // Retries a request that never reached the CA (and a GET after a transport failure or
    // a 5xx): `max_attempts` in all (1 = never retry; default 3), waiting `initial_backoff`
    // (default 200 ms) doubling up to `max_backoff` (default 2 s), with jitter, all within
    // the call timeout.
    Builder &retries(uint32_t max_attempts, std::chrono::milliseconds initial_backoff,
                     std::chrono::milliseconds max_backoff) {
      detail::call([&](stepca_error **e) {
        return stepca_client_builder_set_retries(ptr_.get(), max_attempts,
                                                 static_cast<uint64_t>(initial_backoff.count()),
                                                 static_cast<uint64_t>(max_backoff.count()), e);
      });
      return *this;
    }
    // Sends requests through this HTTP proxy; proxy environment variables are never read.
    // A URL that is no proxy URL fails build() with STEPCA_ERR_INVALID_ARGUMENT.
    Builder &proxy(const std::string &url) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_proxy(ptr_.get(), url.c_str(), e); });
      return *this;
    }
    Builder &provisioner(const std::string &name) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_provisioner(ptr_.get(), name.c_str(), e); });
      return *this;
    }
    Builder &token_provider(TokenProvider fn) {
      auto next = std::make_shared<const TokenProvider>(std::move(fn));
      detail::call([&](stepca_error **e) {
        return stepca_client_builder_set_token_provider(ptr_.get(), detail::provider_trampoline,
                                                        const_cast<TokenProvider *>(next.get()), e);
      });
      callbacks_.provider = std::move(next);  // only once the C side points to it
      return *this;
    }
    // Mints tokens in process with this JWK provisioner (instead of a token provider).
    Builder &jwk_provisioner(const JwkProvisioner &provisioner) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_jwk_provisioner(ptr_.get(), provisioner.get(), e); });
      callbacks_.provider.reset();  // replaced on the C side too
      return *this;
    }
    // Makes tokens in process with this X5C provisioner, signed by the device's factory
    // key (instead of a token provider). Clients built with it keep it and the factory
    // key's sign function alive.
    Builder &x5c_provisioner(const X5cProvisioner &provisioner) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_x5c_provisioner(ptr_.get(), provisioner.get(), e); });
      callbacks_.provider.reset();  // replaced on the C side too
      callbacks_.x5c_sign = provisioner.sign_;
      return *this;
    }
    // Takes the time from `fn` instead of the system clock, everywhere the client needs it
    // (token times, step-ca's TLS certificate, issued chains, the roots' validity at
    // build()). Clients built with it keep it alive, also after this builder is gone. An
    // empty function goes back to the system clock.
    Builder &time_source(TimeSource fn) {
      if (!fn) {
        detail::call([&](stepca_error **e) { return stepca_client_builder_set_time_source(ptr_.get(), nullptr, nullptr, e); });
        callbacks_.time.reset();
        return *this;
      }
      auto next = std::make_shared<const TimeSource>(std::move(fn));
      detail::call([&](stepca_error **e) {
        return stepca_client_builder_set_time_source(ptr_.get(), detail::time_trampoline,
                                                     const_cast<TimeSource *>(next.get()), e);
      });
      callbacks_.time = std::move(next);
      return *this;
    }
    // CA-time mode: tokens and checks use the CA's clock, measured from the Date of its
    // answers, so a device whose clock is minutes or hours off still enrolls. The first
    // connection is still verified at the device's (or time source's) time.
    Builder &ca_time(bool on = true) {
      detail::call([&](stepca_error **e) { return stepca_client_builder_set_ca_time(ptr_.get(), on, e); });
      return *this;
    }
    // Throws STEPCA_ERR_CLOCK when the client's time is before a configured root's
    // notBefore (the clock is wrong).
    Client build() const {
      stepca_client *c = nullptr;
      detail::call([&](stepca_error **e) { return stepca_client_builder_build(ptr_.get(), &c, e); });
      return Client(c, callbacks_);
    }

   private:
    std::unique_ptr<stepca_client_builder, detail::Deleter<stepca_client_builder, stepca_client_builder_free>> ptr_;
    detail::Callbacks callbacks_;
  };

  Client(Client &&) noexcept = default;
  // Frees the old C client before releasing the callbacks it pointed to.
  Client &operator=(Client &&other) noexcept {
    if (this != &other) {
      ptr_ = std::move(other.ptr_);
      callbacks_ = std::move(other.callbacks_);
    }
    return *this;
  }

  // Exchanges a CSR (PEM or DER) for a certificate chain.
  Chain sign(const std::string &csr, const SignOptions &opts = {}) const {
    auto o = sign_options(opts);
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_sign_cert(ptr_.get(), reinterpret_cast<const uint8_t *>(csr.data()), csr.size(), o.get(), &c, e);
    });
    return Chain(c);
  }

  // Builds the CSR for `request` with `key` and exchanges it, in one call: what
  // request.build(key) then sign() do, less reading back and verifying the CSR just made.
  Chain enroll(const Key &key, const CsrRequest &request, const SignOptions &opts = {}) const {
    auto o = sign_options(opts);
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_enroll(ptr_.get(), key.get(), request.get(), o.get(), &c, e); });
    return Chain(c);
  }

  // enroll() with a key libstepca never sees; its CSR signature is checked once.
  Chain enroll(const ExternalKey &key, const CsrRequest &request, const SignOptions &opts = {}) const {
    auto o = sign_options(opts);
    stepca_chain *c = nullptr;
    detail::call(
        [&](stepca_error **e) { return stepca_enroll_external(ptr_.get(), key.get(), request.get(), o.get(), &c, e); });
    return Chain(c);
  }

 private:
  using SignOptionsPtr = std::unique_ptr<stepca_sign_options, detail::Deleter<stepca_sign_options, stepca_sign_options_free>>;
  // The C options for `opts`; its callbacks stay owned by `opts`.
  static SignOptionsPtr sign_options(const SignOptions &opts) {
    stepca_sign_options *o = nullptr;
    detail::call([&](stepca_error **e) { return stepca_sign_options_new(&o, e); });
    std::unique_ptr<stepca_sign_options, detail::Deleter<stepca_sign_options, stepca_sign_options_free>> guard(o);
    token_source(o, opts.token_provider, opts.jwk_provisioner, opts.x5c_provisioner,
                 stepca_sign_options_set_token_provider, stepca_sign_options_set_jwk_provisioner,
                 stepca_sign_options_set_x5c_provisioner);
    // Last: each setter replaces the options' token source, and a token wins.
    if (!opts.token.empty())
      detail::call([&](stepca_error **e) { return stepca_sign_options_set_token(o, opts.token.c_str(), e); });
    if (opts.not_before != 0)
      detail::call([&](stepca_error **e) { return stepca_sign_options_set_not_before(o, opts.not_before, e); });
    if (opts.not_after != 0)
      detail::call([&](stepca_error **e) { return stepca_sign_options_set_not_after(o, opts.not_after, e); });
    if (!opts.template_data.empty())
      detail::call([&](stepca_error **e) { return stepca_sign_options_set_template_data(o, opts.template_data.c_str(), e); });
    return guard;
  }

 public:

  // Renews `chain` held with `key`.
  Chain renew(const Chain &chain, const Key &key, stepca_renew_auth auth = STEPCA_RENEW_AUTO) const {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_renew(ptr_.get(), chain.get(), key.get(), auth, &c, e); });
    return Chain(c);
  }

  // Renews `chain` whose key is held by `key`, with a renew token it signs.
  Chain renew(const Chain &chain, const ExternalKey &key) const {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_renew_external(ptr_.get(), chain.get(), key.get(), &c, e); });
    return Chain(c);
  }

  // Renews the credential's certificate (same subject, SANs, lifetime and key). With
  // STEPCA_RENEW_MTLS a held key signs the TLS handshake; a sign function that throws or
  // returns a signature that does not verify gives STEPCA_ERR_SIGNER.
  Chain renew(const Credential &credential, stepca_renew_auth auth = STEPCA_RENEW_AUTO) const {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_credential_renew(ptr_.get(), credential.get(), auth, &c, e); });
    return Chain(c);
  }

  // Gets a certificate for the key in `new_csr` (PEM or DER), authenticating over mutual
  // TLS with `credential`.
  Chain rekey(const Credential &credential, const std::string &new_csr) const {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_credential_rekey(ptr_.get(), credential.get(), reinterpret_cast<const uint8_t *>(new_csr.data()),
                                     new_csr.size(), &c, e);
    });
    return Chain(c);
  }

  // Gets a certificate for the key in `new_csr` (PEM or DER), authenticating over mutual
  // TLS with `chain` and its `key`.
  Chain rekey(const Chain &chain, const Key &key, const std::string &new_csr) const {
    stepca_chain *c = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_rekey(ptr_.get(), chain.get(), key.get(), reinterpret_cast<const uint8_t *>(new_csr.data()),
                          new_csr.size(), &c, e);
    });
    return Chain(c);
  }

  // Revokes the certificate with `serial` (decimal, 0x hex or aa:bb hex).
  void revoke(const std::string &serial, const RevokeOptions &opts) const {
    auto o = revoke_options(opts);
    detail::call([&](stepca_error **e) { return stepca_revoke(ptr_.get(), serial.c_str(), o.get(), e); });
  }

  // Revokes the certificate with `serial`; the token comes from `token` or the provider.
  void revoke(const std::string &serial, uint32_t reason_code = 0, const std::string &token = {}) const {
    RevokeOptions opts;
    opts.reason_code = reason_code;
    opts.token = token;
    revoke(serial, opts);
  }

  // Revokes `chain`'s leaf, authenticating over mutual TLS with it and its `key` (no
  // token: only the reason of `opts` is used).
  void revoke(const Chain &chain, const Key &key, const RevokeOptions &opts = {}) const {
    auto o = revoke_options(opts);
    detail::call([&](stepca_error **e) {
      return stepca_revoke_with_certificate(ptr_.get(), chain.get(), key.get(), o.get(), e);
    });
  }

  // Revokes the credential's leaf, authenticating over mutual TLS with it (no token: only
  // the reason of `opts` is used).
  void revoke(const Credential &credential, const RevokeOptions &opts = {}) const {
    auto o = revoke_options(opts);
    detail::call([&](stepca_error **e) { return stepca_credential_revoke(ptr_.get(), credential.get(), o.get(), e); });
  }

  void health() const {
    detail::call([&](stepca_error **e) { return stepca_client_health(ptr_.get(), e); });
  }

  // step-ca's version string.
  std::string version() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_client_version(ptr_.get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // The CA's roots, as a PEM bundle.
  std::string roots() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_client_roots(ptr_.get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // The CA's roots and federated roots, as a PEM bundle.
  std::string federation() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_client_federation(ptr_.get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // The CA's intermediates, as a PEM bundle.
  std::string intermediates() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_client_intermediates(ptr_.get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // Every provisioner step-ca lists (all pages), as a JSON array.
  std::string provisioners() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_client_provisioners(ptr_.get(), &p, &n, e); });
    return detail::take(p, n);
  }
  // The roots this client trusts (configured or bootstrapped by fingerprint) as PEM: save
  // them after bootstrapping. Throws when the client uses the system roots.
  std::string trusted_roots_pem() const {
    uint8_t *p = nullptr;
    size_t n = 0;
    detail::call([&](stepca_error **e) { return stepca_client_trusted_roots_pem(ptr_.get(), &p, &n, e); });
    return detail::take(p, n);
  }

  const stepca_client *get() const noexcept { return ptr_.get(); }

 private:
  friend class Renewer;
  Client(stepca_client *c, detail::Callbacks callbacks) : callbacks_(std::move(callbacks)), ptr_(c) {}

  // Sets a call's own token source on its C options `o`. The provider is passed by
  // address: the options are freed before the call returns, while `provider` still lives.
  template <typename O>
  static void token_source(O *o, const TokenProvider &provider, const JwkProvisioner *jwk, const X5cProvisioner *x5c,
                           stepca_status (*set_provider)(O *, stepca_token_provider_fn, void *, stepca_error **),
                           stepca_status (*set_jwk)(O *, const stepca_jwk_provisioner *, stepca_error **),
                           stepca_status (*set_x5c)(O *, const stepca_x5c_provisioner *, stepca_error **)) {
    // Each replaces the others on the C side; say so rather than silently keep one.
    if ((provider ? 1 : 0) + (jwk ? 1 : 0) + (x5c ? 1 : 0) > 1)
      throw Error(STEPCA_ERR_INVALID_ARGUMENT,
                  "token_provider: set at most one of token_provider, jwk_provisioner and x5c_provisioner", 0, "", "");
    if (provider)
      detail::call([&](stepca_error **e) {
        return set_provider(o, detail::provider_trampoline, const_cast<TokenProvider *>(&provider), e);
      });
    if (jwk) detail::call([&](stepca_error **e) { return set_jwk(o, jwk->get(), e); });
    // The factory key's sign function is the caller's provisioner's, alive for the call.
    if (x5c) detail::call([&](stepca_error **e) { return set_x5c(o, x5c->get(), e); });
  }

  static std::unique_ptr<stepca_revoke_options, detail::Deleter<stepca_revoke_options, stepca_revoke_options_free>>
  revoke_options(const RevokeOptions &opts) {
    stepca_revoke_options *o = nullptr;
    detail::call([&](stepca_error **e) { return stepca_revoke_options_new(&o, e); });
    std::unique_ptr<stepca_revoke_options, detail::Deleter<stepca_revoke_options, stepca_revoke_options_free>> guard(o);
    const char *reason = opts.reason.empty() ? nullptr : opts.reason.c_str();
    detail::call([&](stepca_error **e) { return stepca_revoke_options_set_reason(o, opts.reason_code, reason, e); });
    token_source(o, opts.token_provider, opts.jwk_provisioner, opts.x5c_provisioner,
                 stepca_revoke_options_set_token_provider, stepca_revoke_options_set_jwk_provisioner,
                 stepca_revoke_options_set_x5c_provisioner);
    // Last: each setter replaces the options' token source, and a token wins.
    if (!opts.token.empty())
      detail::call([&](stepca_error **e) { return stepca_revoke_options_set_token(o, opts.token.c_str(), e); });
    return guard;
  }

  // Keeps the token provider and time source alive as long as the client: the C side
  // holds pointers to them. Declared first, so it is destroyed after the client.
  detail::Callbacks callbacks_;
  std::unique_ptr<stepca_client, detail::Deleter<stepca_client, stepca_client_free>> ptr_;
};

inline JwkProvisioner JwkProvisioner::fetch(const Client &client, const std::string &name, const std::string &password,
                                            const std::string &kid) {
  stepca_jwk_provisioner *p = nullptr;
  detail::call([&](stepca_error **e) {
    return stepca_jwk_provisioner_fetch(client.get(), name.c_str(), kid.empty() ? nullptr : kid.c_str(), password.c_str(),
                                        &p, e);
  });
  return JwkProvisioner(p);
}

// ---------------------------------------------------------------------------------------
// Unattended renewal.

// What a renewer event reports (STEPCA_RENEWER_*).
enum class RenewerEventKind : stepca_renewer_event_kind {
  // The next renewal is due at `at`.
  Scheduled = STEPCA_RENEWER_SCHEDULED,
  // A renewal (or, when `rekeyed`, a rekey) succeeded and its files are written;
  // `credential` is the new one.
  Renewed = STEPCA_RENEWER_RENEWED,
  // A renewal failed (`error`, `attempt` failures in a row); it is retried at `at`.
  Failed = STEPCA_RENEWER_FAILED,
  // Writing the renewed `credential` failed (`error`: STEPCA_ERR_IO naming the path). It
  // is in use all the same and written again at `at`; Renewed follows once it is.
  WriteFailed = STEPCA_RENEWER_WRITE_FAILED,
};

// One renewer event, as a value: it owns everything it holds, nothing points into the
// C event. Credential is move-only, so an event reaches the callback by const reference;
// the renewer's current credential is Renewer::credential() at any time.
struct RenewerEvent {
  RenewerEventKind kind = RenewerEventKind::Scheduled;
  // Failures in a row, this one included (Failed, WriteFailed), else 0.
  uint32_t attempt = 0;
  // When the renewal is due (Scheduled) or retried (Failed, WriteFailed), to the second;
  // else the epoch.
  std::chrono::system_clock::time_point at{};
  // Whether the key is new (Renewed).
  bool rekeyed = false;
  // The new credential (Renewed, WriteFailed), an owned copy (stepca_credential_clone:
  // the same chain and key), else empty.
  std::optional<Credential> credential;
  // Why (Failed, WriteFailed), copied: code, message, HTTP status, CA message, ...
  std::optional<Error> error;
};

// Receives a renewer's events on its thread, one at a time.
using RenewerEventFunction = std::function<void(const RenewerEvent &event)>;

// Makes the new key of a rekey for a held credential (for example
// ExternalKey::pkcs11_generate in the same token). Throw to fail that rekey: it is
// reported as Failed with STEPCA_ERR_SIGNER ("new_key: the callback returned 1 (threw:
// <what()>)") and retried.
using NewKeyFunction = std::function<ExternalKey()>;

namespace detail {
// Every sign function a renewer's C credentials may call: the first credential's, those
// of replacements and those of the keys NewKeyFunction made. Credentials the renewer hands
// out share it, so a held key's sign function lives as long as any credential using it.
// It only grows: by one std::function per rekey to (or replacement with) a key with one.
struct SignKeeper {
  std::mutex mu;
  std::vector<std::shared_ptr<const AlgSignFunction>> fns;
  void add(const std::shared_ptr<const AlgSignFunction> &fn) {
    if (!fn) return;
    std::lock_guard<std::mutex> lock(mu);
    for (const auto &f : fns)
      if (f == fn) return;
    fns.push_back(fn);
  }
};

// The user_data of a renewer's C callbacks, at a fixed address for the C renewer's life.
struct RenewerState {
  RenewerEventFunction on_event;
  std::shared_ptr<const NewKeyFunction> new_key;
  std::shared_ptr<SignKeeper> signs = std::make_shared<SignKeeper>();
  // The client's token provider and time source: the C renewer shares its Rust client.
  Callbacks client;
  const stepca_renewer *renewer = nullptr;
  // What NewKeyFunction last threw (the renewer's thread only).
  std::string new_key_threw;
  // Callbacks running. A thread stopped from its own event callback is no longer joined
  // by stepca_renewer_stop or _free, so the Renewer waits for them before going.
  std::mutex calls_mu;
  std::condition_variable calls_cv;
  int calls = 0;

  // Marks a callback running for its scope.
  class Call {
   public:
    explicit Call(RenewerState &s) noexcept : s_(s) {
      std::lock_guard<std::mutex> lock(s_.calls_mu);
      ++s_.calls;
    }
    ~Call() {
      // Notified under the lock: once the waiter sees 0, this thread is done with `s_`.
      std::lock_guard<std::mutex> lock(s_.calls_mu);
      --s_.calls;
      s_.calls_cv.notify_all();
    }
    Call(const Call &) = delete;
    Call &operator=(const Call &) = delete;

   private:
    RenewerState &s_;
  };

  // Waits until no callback runs.
  void drain() noexcept {
    std::unique_lock<std::mutex> lock(calls_mu);
    calls_cv.wait(lock, [&] { return calls == 0; });
  }
};
}  // namespace detail

// A credential kept fresh on a background thread: about two thirds into the
// certificate's life (or step's --expires-in / --renew-period), over mutual TLS while it is
// valid and with the certificate-signed token once expired, retried with a capped backoff
// through CA outages, optionally rekeyed every N renewals, each new chain (and new key in
// memory) written atomically before it is reported. Configure, start(), stop(), start()
// again (from the current credential). Move-only; the destructor stops it (as stop())
// and frees it.
//
// The event function runs on the renewer's thread, one event at a time, and is never
// called once stop() has returned. It may call stop() (which then only asks: the thread
// ends after the function returns, no further event is reported, and destroying the
// Renewer waits for the function to return), credential() and renew_now(); it must not
// destroy or move-assign the Renewer. An exception it throws is
// caught and swallowed on that thread (it never crosses into C): the renewer carries on
// exactly as if the function had returned, and reports the next event as usual.
//
// The Renewer keeps what the C side calls alive for as long as it needs it: the client's
// token provider and time source (so the Client may be destroyed first), the credential's
// sign function and those of the keys NewKeyFunction makes (shared with every credential
// it hands out). Configure it from one thread at a time; stop(), renew_now(),
// credential() and replace() may be called from any thread.
class Renewer {
 public:
  // A renewer (not started) for `credential` at `client`'s CA, reporting to `on_event`
  // (may be empty). Defaults: two_thirds(), STEPCA_RENEW_AUTO, no rekey, no files, retries
  // after 5 s doubling up to 300 s. Client and credential are shared, not consumed.
  Renewer(const Client &client, const Credential &credential, RenewerEventFunction on_event)
      : state_(std::make_unique<detail::RenewerState>()) {
    state_->on_event = std::move(on_event);
    state_->client = client.callbacks_;
    state_->signs->add(credential.sign_);
    stepca_renewer *r = nullptr;
    detail::call([&](stepca_error **e) {
      return stepca_renewer_new(client.get(), credential.get(), &Renewer::event_trampoline, state_.get(), &r, e);
    });
    ptr_.reset(r);
    state_->renewer = r;
  }
  Renewer(Renewer &&) noexcept = default;
  // Stops and frees the old C renewer before releasing the callbacks it pointed to.
  Renewer &operator=(Renewer &&other) noexcept {
    if (this != &other) {
      release();
      state_ = std::move(other.state_);
      ptr_ = std::move(other.ptr_);
    }
    return *this;
  }
  ~Renewer() { release(); }

  // The setters below work only while stopped (else STEPCA_ERR_INVALID_ARGUMENT naming
  // `renewer`). Settings that cannot work together are refused by start(), naming the field.

  // Renews about two thirds into the certificate's life, with jitter (step's default).
  Renewer &two_thirds() { return schedule(STEPCA_SCHEDULE_TWO_THIRDS, std::chrono::seconds(0)); }
  // Renews when no more than `left` is left (step's --expires-in), with jitter. Whole
  // seconds, more than 0 (else STEPCA_ERR_INVALID_ARGUMENT naming `seconds`).
  Renewer &expires_in(std::chrono::seconds left) { return schedule(STEPCA_SCHEDULE_EXPIRES_IN, left); }
  // Renews every `period` (step's --renew-period), counted from the first certificate's
  // notBefore, then from each renewal. Whole seconds, more than 0 (else naming `seconds`).
  Renewer &renew_period(std::chrono::seconds period) { return schedule(STEPCA_SCHEDULE_PERIOD, period); }
  // How renewals authenticate (STEPCA_RENEW_*; another value throws naming `auth`).
  Renewer &auth(stepca_renew_auth auth) {
    detail::call([&](stepca_error **e) { return stepca_renewer_set_auth(ptr_.get(), auth, e); });
    return *this;
  }
  // Writes each renewed chain to `cert_path` (PEM, 0644) and, after a rekey of a key in
  // memory, the new key to `key_path` (PKCS#8 PEM, 0600), each atomically, key first.
  // Empty paths write nothing (empty `cert_path`: nothing at all).
  Renewer &files(const std::string &cert_path, const std::string &key_path = {}) {
    detail::call([&](stepca_error **e) {
      return stepca_renewer_set_files(ptr_.get(), cert_path.empty() ? nullptr : cert_path.c_str(),
                                      key_path.empty() ? nullptr : key_path.c_str(), e);
    });
    return *this;
  }
  // Retries a failure after `min`, doubling up to `max` (start() refuses a `min` of 0
  // naming `retry_min`, a `max` below `min` naming `retry_max`).
  Renewer &retry(std::chrono::milliseconds min, std::chrono::milliseconds max) {
    detail::call([&](stepca_error **e) { return stepca_renewer_set_retry(ptr_.get(), millis(min), millis(max), e); });
    return *this;
  }
  // Rekeys instead of renewing every `every` renewals (0: never). A key in memory is
  // replaced by a new one of the same type (with files(), give a key path: start() refuses
  // it otherwise naming `key_file`); a held key needs `new_key` (start() refuses it
  // otherwise naming `new_key`), called on the renewer's thread.
  Renewer &rekey(uint32_t every, NewKeyFunction new_key = {}) {
    std::shared_ptr<const NewKeyFunction> next;
    if (new_key) next = std::make_shared<const NewKeyFunction>(std::move(new_key));
    detail::call([&](stepca_error **e) {
      return stepca_renewer_set_rekey(ptr_.get(), every, next ? &Renewer::new_key_trampoline : nullptr, state_.get(), e);
    });
    state_->new_key = std::move(next);  // only once the C side points to it (stopped: no thread reads it)
    return *this;
  }

  // Starts renewing on a background thread (from the current credential, after a stop).
  // Settings that cannot work throw STEPCA_ERR_INVALID_ARGUMENT naming the field; so does a
  // running renewer (`renewer`).
  void start() {
    detail::call([&](stepca_error **e) { return stepca_renewer_start(ptr_.get(), e); });
  }
  // Stops the renewer and waits for its thread: at once while it waits, or when a request
  // on the wire ends (bounded by the client's timeout). No event is reported after it
  // returns. From the event function it only asks. Stopped (or moved-from): a no-op.
  void stop() noexcept { stepca_renewer_stop(ptr_.get()); }
  // Renews now rather than at the scheduled time (cuts a retry wait short too). A no-op
  // while stopped.
  void renew_now() {
    detail::call([&](stepca_error **e) { return stepca_renewer_renew_now(ptr_.get(), e); });
  }
  // The current credential: the newest renewed one, even before it is written.
  Credential credential() const {
    stepca_credential *c = nullptr;
    detail::call([&](stepca_error **e) { return stepca_renewer_credential(ptr_.get(), &c, e); });
    return Credential(c, signs());
  }
  // Replaces the credential (its files were changed elsewhere) and schedules from it.
  // Throws STEPCA_ERR_IO while a renewed credential is not yet written (it would be lost).
  void replace(const Credential &credential) {
    if (state_) state_->signs->add(credential.sign_);
    detail::call([&](stepca_error **e) { return stepca_renewer_replace(ptr_.get(), credential.get(), e); });
  }
  const stepca_renewer *get() const noexcept { return ptr_.get(); }

 private:
  // Stops and frees the C renewer, waits for a callback still running on a thread that
  // was stopped from its own event callback, then lets the callbacks go.
  void release() noexcept {
    ptr_.reset();
    if (state_) state_->drain();
    state_.reset();
  }

  Renewer &schedule(stepca_schedule schedule, std::chrono::seconds d) {
    uint64_t seconds = d.count() < 0 ? 0 : static_cast<uint64_t>(d.count());  // negative: refused as 0
    detail::call([&](stepca_error **e) { return stepca_renewer_set_schedule(ptr_.get(), schedule, seconds, e); });
    return *this;
  }
  static uint64_t millis(std::chrono::milliseconds d) { return d.count() < 0 ? 0 : static_cast<uint64_t>(d.count()); }

  // An owner of every sign function the renewer's credentials may call, pointing to none.
  std::shared_ptr<const AlgSignFunction> signs() const {
    return std::shared_ptr<const AlgSignFunction>(state_->signs, static_cast<const AlgSignFunction *>(nullptr));
  }

  // An owned copy of the event's borrowed credential `c` (see RenewerEvent::credential):
  // the same chain and key, sharing the renewer's sign functions.
  static std::optional<Credential> copy(const detail::RenewerState &s, const stepca_credential *c) {
    stepca_credential *out = nullptr;
    detail::call([&](stepca_error **e) { return stepca_credential_clone(c, &out, e); });
    return std::optional<Credential>(
        Credential(out, std::shared_ptr<const AlgSignFunction>(s.signs, static_cast<const AlgSignFunction *>(nullptr))));
  }

  // The C event callback: builds the RenewerEvent and runs the std::function; nothing it
  // throws crosses into C (swallowed: the renewer carries on).
  static void event_trampoline(void *user_data, const stepca_renewer_event *ev) noexcept {
    auto &s = *static_cast<detail::RenewerState *>(user_data);
    detail::RenewerState::Call running(s);
    try {
      RenewerEvent event;
      event.kind = static_cast<RenewerEventKind>(ev->kind);
      event.attempt = ev->attempt;
      if (ev->at != 0) event.at = std::chrono::system_clock::time_point(std::chrono::seconds(ev->at));
      event.rekeyed = ev->rekeyed;
      if (ev->error) {
        Error err = detail::error_from(stepca_error_code(ev->error), ev->error);
        std::string threw = std::move(s.new_key_threw);
        s.new_key_threw.clear();
        std::string what = err.what();
        if (!threw.empty() && what.rfind("new_key:", 0) == 0)
          err = Error(err.code(), what + " (threw: " + threw + ")", err.http_status(), err.ca_message(), err.received(),
                      err.clock_skew());
        event.error = std::move(err);
      }
      if (ev->credential) {
        try {
          event.credential = copy(s, ev->credential);
        } catch (...) {
          // Reported without it rather than not at all.
        }
      }
      if (s.on_event) s.on_event(event);
    } catch (...) {
      // Swallowed: an exception must not unwind into C; the renewer carries on.
    }
  }

  // The C new-key callback: runs NewKeyFunction and hands the key's C object to the C
  // side (its sign function stays with the SignKeeper); a throw is a nonzero return.
  static int new_key_trampoline(void *user_data, stepca_external_key **key_out) noexcept {
    auto &s = *static_cast<detail::RenewerState *>(user_data);
    detail::RenewerState::Call running(s);
    try {
      s.new_key_threw.clear();
      ExternalKey key = (*s.new_key)();
      if (!key.ptr_) throw std::invalid_argument("it returned a moved-from ExternalKey");
      s.signs->add(key.sign_);  // before the C side can call it
      *key_out = key.ptr_.release();
      return 0;
    } catch (const std::exception &ex) {
      note(s, ex.what());  // told with the failure it causes
    } catch (...) {
      note(s, "a non-std::exception");
    }
    return 1;
  }
  static void note(detail::RenewerState &s, const char *what) noexcept {
    try {
      s.new_key_threw = what;
    } catch (...) {
    }
  }

  // Declared first: the C renewer (freed first) calls into it until it is freed.
  std::unique_ptr<detail::RenewerState> state_;
  std::unique_ptr<stepca_renewer, detail::Deleter<stepca_renewer, stepca_renewer_free>> ptr_;
};

}  // namespace stepca

#endif  // STEPCA_HPP
