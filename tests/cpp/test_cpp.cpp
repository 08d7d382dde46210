// GoogleTest tests of bindings/cpp/stepca.hpp against a real step-ca (run under
// scripts/with-ca.sh): owners free exactly once, exceptions carry code, HTTP status and
// messages, and a std::function token provider works (and may throw). A std::function
// time source outlives the builder, its exceptions never reach C, and the clock's failures
// (skew past step-ca's leeway, a clock before the root) are told apart. Rekeying,
// revoking (by serial with any token source, or with the certificate), credentials with
// held keys whose sign function learns the algorithm (an OpenSSL RSA key over TLS 1.3 signs
// RSA-PSS), PKCS#11 digest signing and keys opened by URI, JWK provisioners loaded offline,
// X5C provisioners (an OpenSSL-held IDevID enrolls and revokes; a client keeps the factory
// key's sign function alive), retries, a proxy and the CA's read-only endpoints are
// checked by what the CA and OpenSSL see. The Renewer renews 10-second certificates on its
// own thread (each chain on disk before its event, a rekey writing a 0600 key), rekeys a
// held key through a std::function that may throw, keeps the sign functions and the
// client's time source alive, survives an event function that throws, and names the
// setting it refuses.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "stepca.hpp"

namespace {

std::string env(const char *name) {
  const char *v = std::getenv(name);
  if (v == nullptr) {
    ADD_FAILURE() << name << " is not set: run under scripts/with-ca.sh";
    return "";
  }
  return v;
}

std::string run(const std::string &cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE *)> p(popen(cmd.c_str(), "r"), pclose);
  std::array<char, 4096> buf{};
  size_t n;
  while (p && (n = fread(buf.data(), 1, buf.size(), p.get())) > 0) out.append(buf.data(), n);
  return out;
}

std::string quote(const std::string &s) { return "'" + s + "'"; }

// `openssl req -verify -text` on a PEM CSR, through a file of its own (the plain, ASan and
// valgrind runs of this suite may run at once).
std::string openssl_req_text(const std::string &csr) {
  char path[] = "/tmp/stepca-cpp-csr.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  bool written = ::write(fd, csr.data(), csr.size()) == static_cast<ssize_t>(csr.size());
  ::close(fd);
  std::string text = written ? run("openssl req -verify -noout -text -in " + quote(path) + " 2>&1") : "write failed";
  std::remove(path);
  return text;
}

// A token from the step CLI for the claims libstepca passes.
std::string mint(const stepca::Claims &c) {
  std::string cmd = "scripts/mint-token.sh " + quote(c.subject);
  for (const auto &s : c.sans) cmd += " " + quote(s);
  std::string tok = run(cmd);
  while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r')) tok.pop_back();
  if (tok.empty()) throw std::runtime_error("step ca token failed");
  return tok;
}

stepca::Client client(stepca::TokenProvider provider = mint) {
  return stepca::Client::Builder(env("STEPCA_URL"))
      .root_file(env("STEPCA_ROOT"))
      .provisioner("admin")
      .token_provider(std::move(provider))
      .build();
}

// The admin provisioner's password, from the rig's password file.
std::string password() {
  std::ifstream in(env("STEPCA_PASSWORD_FILE"));
  std::string pw;
  std::getline(in, pw);
  while (!pw.empty() && (pw.back() == '\r' || pw.back() == '\n')) pw.pop_back();
  return pw;
}

// The admin JWK provisioner, fetched with a plain client that is gone again.
stepca::JwkProvisioner admin_provisioner() {
  auto base = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  return stepca::JwkProvisioner::fetch(base, "admin", password());
}

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string csr_for(const stepca::Key &key, const std::string &cn) {
  return stepca::CsrRequest().subject("CN", cn).dns(cn).build(key);
}

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A revoke token from the step CLI for `serial`.
std::string mint_revoke(const std::string &serial) {
  return chomp(run("STEP_TOKEN_FLAGS=--revoke scripts/mint-token.sh " + quote(serial)));
}

// The admin provisioner's entry in the CA's ca.json.
std::string admin_entry() {
  return chomp(run("python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); "
                   "print(json.dumps([p for p in c[\"authority\"][\"provisioners\"] if p[\"name\"] == \"admin\"][0]))' " +
                   quote(env("STEPCA_CONFIG"))));
}

// What OpenSSL reads from a chain's leaf and from a key.
struct X509Free {
  void operator()(X509 *x) const { X509_free(x); }
};
std::unique_ptr<X509, X509Free> leaf(const stepca::Chain &chain) {
  std::string der = chain.certificate(0, STEPCA_FORMAT_DER);
  auto p = reinterpret_cast<const unsigned char *>(der.data());
  return std::unique_ptr<X509, X509Free>(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}
std::string spki(EVP_PKEY *pkey) {
  unsigned char *der = nullptr;
  int n = i2d_PUBKEY(pkey, &der);
  std::string out(reinterpret_cast<char *>(der), static_cast<size_t>(n > 0 ? n : 0));
  OPENSSL_free(der);
  return out;
}
std::string leaf_spki(const stepca::Chain &chain) { return spki(X509_get0_pubkey(leaf(chain).get())); }
std::string leaf_subject(const stepca::Chain &chain) {
  char *s = X509_NAME_oneline(X509_get_subject_name(leaf(chain).get()), nullptr, 0);
  std::string out(s);
  OPENSSL_free(s);
  return out;
}
std::string key_spki(const stepca::Key &key) {
  std::string pem = key.pem();
  BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  std::string out = spki(pkey);
  EVP_PKEY_free(pkey);
  return out;
}

// Signs `msg` with an OpenSSL key as libstepca asks for `alg` (what an HSM driver does).
std::string openssl_sign(EVP_PKEY *pkey, stepca_sig_alg alg, const std::string &msg) {
  const EVP_MD *md = nullptr;
  bool pss = false;
  switch (alg) {
    case STEPCA_SIG_RSA_PKCS1_SHA256: case STEPCA_SIG_ECDSA_P256_SHA256: md = EVP_sha256(); break;
    case STEPCA_SIG_RSA_PKCS1_SHA384: case STEPCA_SIG_ECDSA_P384_SHA384: md = EVP_sha384(); break;
    case STEPCA_SIG_RSA_PKCS1_SHA512: md = EVP_sha512(); break;
    case STEPCA_SIG_RSA_PSS_SHA256: md = EVP_sha256(); pss = true; break;
    case STEPCA_SIG_RSA_PSS_SHA384: md = EVP_sha384(); pss = true; break;
    case STEPCA_SIG_RSA_PSS_SHA512: md = EVP_sha512(); pss = true; break;
    default: throw std::runtime_error("no such algorithm in this test signer: " + std::to_string(alg));
  }
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX *pctx = nullptr;
  size_t len = 0;
  auto in = reinterpret_cast<const unsigned char *>(msg.data());
  if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey) != 1 ||
      (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)) ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, msg.size()) != 1)
    throw std::runtime_error("OpenSSL could not sign");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(&sig[0]), &len, in, msg.size()) != 1)
    throw std::runtime_error("OpenSSL could not sign");
  sig.resize(len);
  return sig;
}

// Whether OpenSSL verifies `sig` over the precomputed `digest` with the DER SPKI `public_key`.
bool verifies_digest(const std::string &public_key, stepca_sig_alg alg, const std::string &digest,
                     const std::string &sig) {
  auto p = reinterpret_cast<const unsigned char *>(public_key.data());
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY *)> pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(public_key.size())),
                                                       EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX *)> ctx(EVP_PKEY_CTX_new(pkey.get(), nullptr), EVP_PKEY_CTX_free);
  const EVP_MD *md = alg == STEPCA_SIG_ECDSA_P384_SHA384 || alg == STEPCA_SIG_RSA_PKCS1_SHA384 ||
                             alg == STEPCA_SIG_RSA_PSS_SHA384
                         ? EVP_sha384()
                         : EVP_sha256();
  bool pss = alg == STEPCA_SIG_RSA_PSS_SHA256 || alg == STEPCA_SIG_RSA_PSS_SHA384;
  if (!pkey || EVP_PKEY_verify_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) return false;
  if (pss && (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) != 1 ||
              EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1))
    return false;
  return EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char *>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char *>(digest.data()), digest.size()) == 1;
}

std::string digest_of(const EVP_MD *md, const std::string &msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(msg.data(), msg.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char *>(out), n);
}

struct PkeyFree {
  void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A numeric claim of a JWT's payload.
int64_t jwt_claim(const std::string &jwt, const std::string &name) {
  size_t a = jwt.find('.'), b = jwt.find('.', a + 1);
  std::string b64 = jwt.substr(a + 1, b - a - 1);
  for (char &c : b64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (b64.size() % 4) b64 += '=';
  std::string json(b64.size(), '\0');
  EVP_DecodeBlock(reinterpret_cast<unsigned char *>(&json[0]), reinterpret_cast<const unsigned char *>(b64.data()),
                  static_cast<int>(b64.size()));
  size_t at = json.find("\"" + name + "\":");
  if (at == std::string::npos) throw std::runtime_error("no claim " + name + " in " + json);
  return std::stoll(json.substr(at + name.size() + 3));
}

// Expects `f` to throw stepca::Error with `code` and a message starting with "`field`:".
template <typename F>
void expect_error(F &&f, stepca_status code, const std::string &field) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected " << field;
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(field + ":", 0), 0u) << e.what();
  }
}

// A TCP server on 127.0.0.1 that runs `handler` for each connection on its own thread;
// the handler should return soon after `stop` turns true (the destructor waits for it).
class Server {
 public:
  using Handler = std::function<void(int fd, const std::atomic<bool> &stop)>;
  explicit Server(Handler handler) : handler_(std::move(handler)), fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr *>(&a), len) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr *>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(fd_, nullptr, nullptr);
        if (c >= 0) connections_.emplace_back([this, c] {
          handler_(c, stop_);
          close(c);
        });
      }
    });
  }
  ~Server() {
    stop_ = true;
    accepter_.join();
    for (auto &t : connections_) t.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  Handler handler_;
  int fd_, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accepter_;
  std::vector<std::thread> connections_;  // touched by the accepter only, until it is joined
};

// Reads an HTTP request head; "" when the peer closes first or the server stops.
std::string read_head(int fd, const std::atomic<bool> &stop) {
  std::string head;
  std::array<char, 1024> buf{};
  while (!stop && head.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return "";
    head.append(buf.data(), static_cast<size_t>(n));
  }
  return head;
}

bool send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// An HTTP CONNECT proxy to 127.0.0.1 that records each CONNECT target.
struct ConnectProxy {
  std::mutex mu;
  std::vector<std::string> targets;
  // Last: its threads use the members above.
  Server server{[this](int fd, const std::atomic<bool> &stop) { serve(fd, stop); }};

  void serve(int fd, const std::atomic<bool> &stop) {
    std::string head = read_head(fd, stop);
    if (head.rfind("CONNECT ", 0) != 0) return;
    std::string target = head.substr(8, head.find(' ', 8) - 8);
    {
      std::lock_guard<std::mutex> lock(mu);
      targets.push_back(target);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(target.rfind(':') + 1))));
    inet_pton(AF_INET, target.substr(0, target.rfind(':')).c_str(), &a.sin_addr);
    int up = socket(AF_INET, SOCK_STREAM, 0);
    const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (connect(up, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 && send_all(fd, ok, sizeof ok - 1)) {
      std::array<char, 16384> buf{};
      pollfd p[2] = {{fd, POLLIN, 0}, {up, POLLIN, 0}};
      for (bool open = true; open && !stop;) {
        if (poll(p, 2, 50) <= 0) continue;
        for (int i = 0; i < 2 && open; ++i) {
          if (p[i].revents == 0) continue;
          ssize_t n = recv(p[i].fd, buf.data(), buf.size(), 0);
          open = n > 0 && send_all(p[1 - i].fd, buf.data(), static_cast<size_t>(n));
        }
      }
    }
    close(up);
  }
};

}  // namespace

TEST(Key, GenerateExportLoadRoundTrip) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP384);
  EXPECT_EQ(key.algorithm(), static_cast<stepca_key_alg>(STEPCA_KEY_ALG_EC_P384));
  EXPECT_EQ(key.bits(), 384u);
  std::string pem = key.pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  auto again = stepca::Key::load(pem);
  EXPECT_EQ(again.bits(), 384u);
  auto moved = std::move(again);  // owners move; the moved-from one frees nothing
  EXPECT_EQ(moved.bits(), 384u);
}

TEST(Key, BadInputThrowsWithTheCode) {
  try {
    stepca::Key::load("not a key");
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_KEY);
    EXPECT_EQ(std::string(e.what()).rfind("key:", 0), 0u) << e.what();
    EXPECT_EQ(e.http_status(), 0);
  }
}

TEST(Csr, FieldsReachOpensslAndBadFieldsAreNamed) {
  auto key = stepca::Key::generate(stepca::KeyType::Ed25519);
  std::string csr = stepca::CsrRequest()
                        .subject("O", "Example Corp")
                        .subject("CN", "cpp.example.com")
                        .dns("cpp.example.com")
                        .ip("192.0.2.1")
                        .ext_key_usage("clientAuth")
                        .build(key);
  std::string text = openssl_req_text(csr);
  EXPECT_NE(text.find("verify OK"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:cpp.example.com, IP Address:192.0.2.1"), std::string::npos) << text;
  try {
    stepca::CsrRequest().ip("300.1.1.1");
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(e.what()).rfind("san.ip:", 0), 0u) << e.what();
  }
}

TEST(Client, EnrollsRenewsAndRevokesWithAStdFunctionProvider) {
  int calls = 0;
  auto c = client([&](const stepca::Claims &claims) {
    ++calls;
    EXPECT_EQ(claims.provisioner, "admin");
    return mint(claims);
  });
  c.health();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = c.sign(stepca::CsrRequest().subject("CN", "cpp1.example.com").dns("cpp1.example.com").build(key));
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_NE(chain.pem().find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_GT(chain.renew_after(), 0);
  auto renewed = c.renew(chain, key, STEPCA_RENEW_MTLS);
  EXPECT_NE(renewed.serial(), chain.serial());
  auto reloaded = stepca::Chain::load(renewed.pem());
  EXPECT_EQ(reloaded.serial(), renewed.serial());
  // Revoke with a token the step CLI mints for the serial, then renewal is refused.
  c.revoke(renewed.serial(), 1, mint_revoke(renewed.serial()));
  try {
    c.renew(renewed, key, STEPCA_RENEW_MTLS);
    FAIL() << "a revoked certificate renewed";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_CA_REJECTED);
    EXPECT_EQ(e.http_status(), 401);
  }
}

TEST(Client, ProviderExceptionsAndCaRejectionsCarryTheirDetail) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  std::string csr = stepca::CsrRequest().subject("CN", "cpp2.example.com").dns("cpp2.example.com").build(key);
  auto throwing = client([](const stepca::Claims &) -> std::string { throw std::runtime_error("vault sealed"); });
  try {
    throwing.sign(csr);
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_TOKEN_PROVIDER);
    EXPECT_NE(std::string(e.what()).find("vault sealed"), std::string::npos) << e.what();
  }
  // A token for other SANs: step-ca's 403 and its message.
  stepca::Claims other;
  other.subject = "cpp2.example.com";
  other.sans = {"elsewhere.example.com"};
  stepca::SignOptions opts;
  opts.token = mint(other);
  try {
    client().sign(csr, opts);
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_CA_REJECTED);
    EXPECT_EQ(e.http_status(), 403);
    EXPECT_NE(e.ca_message().find("DNS names"), std::string::npos) << e.ca_message();
  }
}

// A sign function over an OpenSSL key (SHA-256), counting its calls in `count`.
stepca::SignFunction sha256_signer(EVP_PKEY *pkey, int &count) {
  return [pkey, &count](const std::string &msg) {
    ++count;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char *>(msg.data()), msg.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(&sig[0]), &len, reinterpret_cast<const unsigned char *>(msg.data()),
                   msg.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return sig;
  };
}

TEST(ExternalKey, AnOpensslHeldKeyEnrollsAndRenews) {
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  ASSERT_NE(pkey, nullptr);
  unsigned char *spki = nullptr;
  int n = i2d_PUBKEY(pkey, &spki);
  std::string public_key(reinterpret_cast<char *>(spki), static_cast<size_t>(n));
  OPENSSL_free(spki);
  int signatures = 0;
  stepca::ExternalKey key(public_key, STEPCA_SIG_ECDSA_P256_SHA256, sha256_signer(pkey, signatures));
  auto c = client();
  auto chain = c.sign(key.csr(stepca::CsrRequest().subject("CN", "cpp-held.example.com").dns("cpp-held.example.com")));
  auto renewed = c.renew(chain, key);
  EXPECT_NE(renewed.serial(), chain.serial());
  EXPECT_EQ(signatures, 2);
  stepca::ExternalKey failing(public_key, STEPCA_SIG_ECDSA_P256_SHA256,
                              [](const std::string &) -> std::string { throw std::runtime_error("token removed"); });
  try {
    failing.csr(stepca::CsrRequest().subject("CN", "x"));
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_SIGNER);
    EXPECT_NE(std::string(e.what()).find("token removed"), std::string::npos) << e.what();
  }
  EVP_PKEY_free(pkey);
}

TEST(Client, EnrollBuildsAndExchangesTheCsrInOneCall) {
  int asked = 0;
  auto c = client([&](const stepca::Claims &claims) {
    ++asked;
    return mint(claims);
  });
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = c.enroll(key, stepca::CsrRequest().subject("CN", "cpp-enroll.example.com").dns("cpp-enroll.example.com"));
  EXPECT_EQ(chain.size(), 2u);
  EXPECT_EQ(leaf_spki(chain), key_spki(key));
  EXPECT_EQ(asked, 1);

  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  ASSERT_NE(pkey, nullptr);
  int signatures = 0;
  stepca::ExternalKey held(spki(pkey), STEPCA_SIG_ECDSA_P256_SHA256, sha256_signer(pkey, signatures));
  chain = c.enroll(held, stepca::CsrRequest().subject("CN", "cpp-enroll-held.example.com").dns("cpp-enroll-held.example.com"));
  EXPECT_EQ(leaf_spki(chain), spki(pkey));
  EXPECT_EQ(signatures, 1);
  EXPECT_EQ(asked, 2);

  // What cannot be built throws before a token is asked for.
  try {
    c.enroll(key, stepca::CsrRequest().subject("CN", "x").signature_algorithm(STEPCA_SIG_RSA_PKCS1_SHA256));
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(e.what()).rfind("signature_algorithm:", 0), 0u) << e.what();
  }
  EXPECT_EQ(asked, 2);
  EVP_PKEY_free(pkey);
}

// One signature libstepca asked a held key's sign function for.
struct Asked {
  stepca_sig_alg alg;
  std::string message;
};

TEST(Credential, AnOpensslRsaKeyRenewsOverTls13RekeysAndRevokes) {
  Pkey rsa(EVP_RSA_gen(2048));
  ASSERT_NE(rsa, nullptr);
  std::vector<Asked> asked;
  stepca::ExternalKey key(spki(rsa.get()), STEPCA_SIG_RSA_PKCS1_SHA256,
                          [&](stepca_sig_alg alg, const std::string &msg) {
                            asked.push_back({alg, msg});
                            return openssl_sign(rsa.get(), alg, msg);
                          });
  const std::string cn = "cpp-cred-rsa.example.com";
  auto c = client();
  auto chain = c.sign(key.csr(stepca::CsrRequest().subject("CN", cn).dns(cn)));
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].alg, static_cast<stepca_sig_alg>(STEPCA_SIG_RSA_PKCS1_SHA256));  // the CSR: the key's own

  // A client without any token source: mutual TLS is the only way in.
  auto mtls = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  stepca::Credential credential(chain, key);
  EXPECT_EQ(credential.chain().serial(), chain.serial());
  asked.clear();
  auto renewed = mtls.renew(credential, STEPCA_RENEW_MTLS);
  EXPECT_NE(renewed.serial(), chain.serial());
  EXPECT_EQ(leaf_spki(renewed), spki(rsa.get()));
  // One TLS 1.3 CertificateVerify (RFC 8446 4.4.3), signed RSA-PSS.
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].alg, static_cast<stepca_sig_alg>(STEPCA_SIG_RSA_PSS_SHA256));
  const std::string context = std::string(64, '\x20') + "TLS 1.3, client CertificateVerify";
  EXPECT_EQ(asked[0].message.rfind(context, 0), 0u);

  // Rekey to an OpenSSL P-256 key, authenticating with the renewed RSA credential.
  Pkey ec(EVP_EC_gen("P-256"));
  ASSERT_NE(ec, nullptr);
  int ec_signatures = 0;
  stepca::ExternalKey new_key(spki(ec.get()), STEPCA_SIG_ECDSA_P256_SHA256,
                              [&](stepca_sig_alg alg, const std::string &msg) {
                                ++ec_signatures;
                                return openssl_sign(ec.get(), alg, msg);
                              });
  asked.clear();
  auto rekeyed = mtls.rekey(stepca::Credential(renewed, key),
                            new_key.csr(stepca::CsrRequest().subject("CN", cn).dns(cn)));
  EXPECT_EQ(leaf_spki(rekeyed), spki(ec.get()));
  EXPECT_EQ(leaf_subject(rekeyed), "/CN=" + cn);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].alg, static_cast<stepca_sig_alg>(STEPCA_SIG_RSA_PSS_SHA256));

  // Revoke with the new credential; then the CA refuses to renew it.
  stepca::Credential rekeyed_credential(rekeyed, new_key);
  ec_signatures = 0;
  stepca::RevokeOptions opts;
  opts.reason_code = 4;  // superseded
  mtls.revoke(rekeyed_credential, opts);
  EXPECT_EQ(ec_signatures, 1);  // the handshake, ECDSA as the key's own
  try {
    mtls.renew(rekeyed_credential, STEPCA_RENEW_MTLS);
    FAIL() << "a revoked certificate renewed";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_CA_REJECTED) << e.what();
    EXPECT_EQ(e.http_status(), 401) << e.what();
  }
  // The RSA credential is still good.
  EXPECT_NO_THROW(mtls.renew(stepca::Credential(renewed, key), STEPCA_RENEW_MTLS));

  // A sign function that throws during the handshake.
  stepca::ExternalKey unplugged(spki(rsa.get()), STEPCA_SIG_RSA_PKCS1_SHA256,
                                [](stepca_sig_alg, const std::string &) -> std::string {
                                  throw std::runtime_error("token unplugged");
                                });
  try {
    mtls.renew(stepca::Credential(renewed, unplugged), STEPCA_RENEW_MTLS);
    FAIL() << "a throwing signer renewed";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_SIGNER) << e.what();
    EXPECT_NE(std::string(e.what()).find("token unplugged"), std::string::npos) << e.what();
  }
  // The message-only form knows only PKCS#1 v1.5: it is not called for the handshake's PSS.
  int plain_calls = 0;
  stepca::ExternalKey plain(spki(rsa.get()), STEPCA_SIG_RSA_PKCS1_SHA256, [&](const std::string &msg) {
    ++plain_calls;
    return openssl_sign(rsa.get(), STEPCA_SIG_RSA_PKCS1_SHA256, msg);
  });
  try {
    mtls.renew(stepca::Credential(renewed, plain), STEPCA_RENEW_MTLS);
    FAIL() << "a PKCS#1 v1.5 signer passed a TLS 1.3 handshake";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_SIGNER) << e.what();
    EXPECT_NE(std::string(e.what()).find("AlgSignFunction"), std::string::npos) << e.what();
  }
  EXPECT_EQ(plain_calls, 0);
  // ...but it still signs the renew token with the key's own algorithm.
  EXPECT_NO_THROW(c.renew(renewed, plain));
  EXPECT_EQ(plain_calls, 1);

  // A key that is not the leaf's.
  expect_error([&] { stepca::Credential(renewed, new_key); }, STEPCA_ERR_INVALID_ARGUMENT, "signer");
  expect_error([&] { stepca::Credential(renewed, stepca::Key::generate(stepca::KeyType::EcP256)); },
               STEPCA_ERR_INVALID_ARGUMENT, "key");
}

TEST(Credential, OutlivesItsKeysAndChainAndWorksWithKeysInMemory) {
  auto c = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  Pkey ec(EVP_EC_gen("P-256"));
  ASSERT_NE(ec, nullptr);
  std::optional<stepca::Credential> held;
  {
    stepca::ExternalKey key(spki(ec.get()), STEPCA_SIG_ECDSA_P256_SHA256,
                            [&](stepca_sig_alg alg, const std::string &msg) { return openssl_sign(ec.get(), alg, msg); });
    auto chain = client().sign(key.csr(stepca::CsrRequest().subject("CN", "cpp-cred-held.example.com")
                                           .dns("cpp-cred-held.example.com")));
    held.emplace(chain, key);
  }  // the key (with its sign function) and the chain are gone; the credential keeps them
  auto renewed = c.renew(*held, STEPCA_RENEW_MTLS);
  EXPECT_EQ(leaf_spki(renewed), spki(ec.get()));
  EXPECT_NE(renewed.serial(), held->chain().serial());

  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  std::optional<stepca::Credential> in_memory;
  {
    auto chain = client().sign(csr_for(key, "cpp-cred-mem.example.com"));
    in_memory.emplace(chain, key);
  }
  auto again = c.renew(*in_memory, STEPCA_RENEW_MTLS);
  EXPECT_EQ(leaf_spki(again), key_spki(key));
  auto new_key = stepca::Key::generate(stepca::KeyType::EcP384);
  auto rekeyed = c.rekey(*in_memory, csr_for(new_key, "cpp-cred-mem.example.com"));
  EXPECT_EQ(leaf_spki(rekeyed), key_spki(new_key));
  c.revoke(*in_memory);
  expect_error([&] { c.renew(*in_memory, STEPCA_RENEW_MTLS); }, STEPCA_ERR_CA_REJECTED, "renew");
  EXPECT_NO_THROW(c.renew(stepca::Credential(rekeyed, new_key), STEPCA_RENEW_MTLS));
}

TEST(ExternalKey, Pkcs11KeysGeneratedInSoftHsm) {
  char dir[] = "/tmp/stepca-cpp-hsm.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string conf = std::string(dir) + "/softhsm2.conf";
  run("mkdir -p " + std::string(dir) + "/tokens && printf 'directories.tokendir = " + dir +
      "/tokens\\nobjectstore.backend = file\\n' > " + conf);
  setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  run("softhsm2-util --init-token --free --label cpp-token --pin 1111 --so-pin 2222 >/dev/null");
  const std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  auto key = stepca::ExternalKey::pkcs11_generate(module, "cpp-token", "1111", "k", stepca::KeyType::EcP384);
  auto c = client();
  auto chain = c.sign(key.csr(stepca::CsrRequest().subject("CN", "cpp-hsm.example.com").dns("cpp-hsm.example.com")));
  auto renewed = c.renew(chain, key);
  EXPECT_NE(renewed.serial(), chain.serial());
  auto again = stepca::ExternalKey::pkcs11_open(module, "cpp-token", "1111", "k");
  EXPECT_EQ(again.public_key(), key.public_key());
  // The same key named by a PKCS#11 URI, as step's --kms takes it.
  auto by_uri = stepca::ExternalKey::pkcs11_open_uri("pkcs11:token=cpp-token;object=k?module-path=" + module + "&pin-value=1111");
  EXPECT_EQ(by_uri.public_key(), key.public_key());
  expect_error([&] { stepca::ExternalKey::pkcs11_open_uri("pkcs11:token=cpp-token?module-path=" + module + "&pin-value=1111"); },
               STEPCA_ERR_INVALID_ARGUMENT, "uri");
  // Digests hashed by the caller, signed in the token, verified by OpenSSL.
  std::string digest = digest_of(EVP_sha384(), "signed in the token");
  std::string sig = key.sign_digest(STEPCA_SIG_ECDSA_P384_SHA384, digest);
  EXPECT_TRUE(verifies_digest(key.public_key(), STEPCA_SIG_ECDSA_P384_SHA384, digest, sig));
  EXPECT_FALSE(verifies_digest(key.public_key(), STEPCA_SIG_ECDSA_P384_SHA384, digest_of(EVP_sha384(), "other"), sig));
  auto rsa = stepca::ExternalKey::pkcs11_generate(module, "cpp-token", "1111", "r", stepca::KeyType::Rsa2048);
  digest = digest_of(EVP_sha256(), "signed in the token");
  for (stepca_sig_alg alg : {STEPCA_SIG_RSA_PKCS1_SHA256, STEPCA_SIG_RSA_PSS_SHA256}) {
    sig = rsa.sign_digest(alg, digest);
    EXPECT_EQ(sig.size(), 256u) << alg;
    EXPECT_TRUE(verifies_digest(rsa.public_key(), alg, digest, sig)) << alg;
  }
  // An RSA key in the token renews over TLS 1.3 (RSA-PSS) with a credential.
  auto rsa_chain = c.sign(rsa.csr(stepca::CsrRequest().subject("CN", "cpp-hsm-rsa.example.com").dns("cpp-hsm-rsa.example.com")));
  EXPECT_NE(c.renew(stepca::Credential(rsa_chain, rsa), STEPCA_RENEW_MTLS).serial(), rsa_chain.serial());
  // A key with a sign function has no token to sign digests in.
  stepca::ExternalKey callback(key.public_key(), STEPCA_SIG_ECDSA_P384_SHA384,
                               [](const std::string &) -> std::string { return ""; });
  expect_error([&] { callback.sign_digest(STEPCA_SIG_ECDSA_P384_SHA384, digest_of(EVP_sha384(), "x")); },
               STEPCA_ERR_INVALID_ARGUMENT, "key");
  try {
    stepca::ExternalKey::pkcs11_open(module, "cpp-token", "9999", "k");
    FAIL() << "a wrong PIN was accepted";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_KEY_PASSPHRASE);
  }
  run(std::string("rm -rf ") + dir);
}

TEST(Csr, SubjectAttributesOverRfc5280BoundsAreRefused) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  EXPECT_NO_THROW(stepca::CsrRequest().subject("CN", std::string(64, 'a')).build(key));
  try {
    stepca::CsrRequest().subject("CN", std::string(10000, 'a')).build(key);
    FAIL() << "a 10000-character CN was accepted";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_INVALID_ARGUMENT);
    std::string what = e.what();
    EXPECT_EQ(what.rfind("subject.CN:", 0), 0u) << what;
    EXPECT_NE(what.find("64"), std::string::npos) << what;
    EXPECT_FALSE(e.clock_skew().has_value());
  }
}

TEST(JwkProvisioner, AWrongPasswordIsTold) {
  auto base = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  try {
    stepca::JwkProvisioner::fetch(base, "admin", "hunter2-not-it");
    FAIL() << "a wrong provisioner password was accepted";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_KEY_PASSPHRASE);
  }
}

TEST(Clock, TokensFromAClockAheadAreRefusedWithTheSkewAndCaTimeEnrollsAnyway) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  std::string csr = csr_for(key, "cpp-ahead.example.com");
  std::atomic<int> readings{0};
  auto ahead = [&readings]() -> int64_t {
    ++readings;
    return unix_now() + 600;
  };
  {
    // The provisioner and the builder are temporaries, gone before the client signs: the
    // client keeps the time source (ASan and valgrind would see it freed otherwise).
    auto c = stepca::Client::Builder(env("STEPCA_URL"))
                 .root_file(env("STEPCA_ROOT"))
                 .jwk_provisioner(admin_provisioner())
                 .time_source(ahead)
                 .build();
    try {
      c.sign(csr);
      FAIL() << "a token minted 10 minutes ahead was accepted";
    } catch (const stepca::Error &e) {
      EXPECT_EQ(e.code(), STEPCA_ERR_CA_REJECTED) << e.what();
      EXPECT_EQ(e.http_status(), 401) << e.what();
      EXPECT_NE(std::string(e.what()).find("ahead of the CA's"), std::string::npos) << e.what();
      ASSERT_TRUE(e.clock_skew().has_value()) << e.what();
      EXPECT_NEAR(static_cast<double>(e.clock_skew()->count()), 600.0, 5.0) << e.what();
    }
    EXPECT_GT(readings.load(), 0);
  }
  // The same clock in CA-time mode: tokens carry the CA's time and the CSR is signed.
  auto c = stepca::Client::Builder(env("STEPCA_URL"))
               .root_file(env("STEPCA_ROOT"))
               .jwk_provisioner(admin_provisioner())
               .time_source(ahead)
               .ca_time(true)
               .build();
  auto chain = c.sign(csr);
  EXPECT_EQ(chain.size(), 2u);
  // A moved-into client frees its old C client before the old time source.
  c = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  c.health();
}

TEST(Clock, ATimeSourceBeforeTheRootFailsTheBuildAsAWrongClock) {
  try {
    stepca::Client::Builder(env("STEPCA_URL"))
        .root_file(env("STEPCA_ROOT"))
        .time_source([] { return int64_t{946684800}; })  // 2000-01-01T00:00:00Z
        .build();
    FAIL() << "a client whose clock reads 2000-01-01 was built";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_CLOCK);
    std::string what = e.what();
    EXPECT_NE(what.find("the clock is wrong"), std::string::npos) << what;
    EXPECT_NE(what.find("2000-01-01T00:00:00Z"), std::string::npos) << what;
    EXPECT_EQ(e.http_status(), 0);
    EXPECT_FALSE(e.clock_skew().has_value());
  }
  // An empty time source goes back to the system clock, which is right.
  EXPECT_NO_THROW(stepca::Client::Builder(env("STEPCA_URL"))
                      .root_file(env("STEPCA_ROOT"))
                      .time_source([] { return int64_t{946684800}; })
                      .time_source(nullptr)
                      .build()
                      .health());
}

TEST(Clock, ATokenProviderIsToldTheTimeSourcesNow) {
  int64_t told = 0;
  auto c = stepca::Client::Builder(env("STEPCA_URL"))
               .root_file(env("STEPCA_ROOT"))
               .provisioner("admin")
               .token_provider([&](const stepca::Claims &claims) {
                 told = claims.now;
                 return mint(claims);  // the step CLI's token, at the real time
               })
               .time_source([] { return unix_now() + 3600; })
               .build();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  int64_t before = unix_now();
  c.sign(csr_for(key, "cpp-told.example.com"));
  EXPECT_GE(told, before + 3600);
  EXPECT_LE(told, unix_now() + 3600);
}

TEST(Clock, AThrowingTimeSourceFallsBackToTheSystemClock) {
  std::atomic<int> throws{0};
  auto c = stepca::Client::Builder(env("STEPCA_URL"))
               .root_file(env("STEPCA_ROOT"))
               .jwk_provisioner(admin_provisioner())
               .time_source([&throws]() -> int64_t {
                 ++throws;
                 throw std::runtime_error("no time yet");
               })
               .build();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = c.sign(csr_for(key, "cpp-throwing-clock.example.com"));
  EXPECT_EQ(chain.size(), 2u);
  EXPECT_GT(throws.load(), 0);
}

TEST(Library, VersionAndCapabilitiesDescribeThisBuild) {
  EXPECT_EQ(stepca::version(), std::to_string(STEPCA_VERSION_MAJOR) + "." + std::to_string(STEPCA_VERSION_MINOR) + "." +
                                   std::to_string(STEPCA_VERSION_PATCH));
  EXPECT_EQ(stepca::version_number(), static_cast<uint32_t>(STEPCA_VERSION_NUMBER));
  std::string caps = stepca::capabilities();
  EXPECT_EQ(caps.front(), '{') << caps;
  EXPECT_NE(caps.find("\"key_algs\":["), std::string::npos) << caps;
  EXPECT_NE(caps.find("\"EC-P256\""), std::string::npos) << caps;
  EXPECT_TRUE(stepca::supports("EC-P256"));
  EXPECT_TRUE(stepca::supports("uri"));
  EXPECT_FALSE(stepca::supports("no-such-capability"));
}

TEST(Csr, AnExtensionByOidReachesOpenssl) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  // subjectKeyIdentifier: an OCTET STRING of 4 bytes.
  std::string ski("\x04\x04\xde\xad\xbe\xef", 6);
  std::string csr = stepca::CsrRequest().subject("CN", "ext.example.com").extension("2.5.29.14", false, ski).build(key);
  std::string text = openssl_req_text(csr);
  EXPECT_NE(text.find("verify OK"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Subject Key Identifier"), std::string::npos) << text;
  EXPECT_NE(text.find("DE:AD:BE:EF"), std::string::npos) << text;
  expect_error([] { stepca::CsrRequest().extension("not-an-oid", false, std::string("\x05\x00", 2)); },
               STEPCA_ERR_INVALID_ARGUMENT, "extension.oid");
}

TEST(Client, ReadOnlyEndpointsReturnWhatTheCaServes) {
  auto c = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  std::string served =
      run("curl -s --cacert " + quote(env("STEPCA_ROOT")) + " " + quote(env("STEPCA_URL") + "/version"));
  std::string version = c.version();
  EXPECT_FALSE(version.empty());
  EXPECT_NE(served.find("\"version\":\"" + version + "\""), std::string::npos) << served;
  std::string roots = c.roots();
  std::ifstream in(env("STEPCA_ROOT"));
  std::string root_file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(roots, root_file);
  EXPECT_EQ(c.trusted_roots_pem(), roots);
  EXPECT_NE(c.federation().find(roots), std::string::npos);
  std::string provisioners = c.provisioners();
  EXPECT_EQ(provisioners.front(), '[');
  EXPECT_NE(provisioners.find("\"name\":\"admin\""), std::string::npos) << provisioners;
  EXPECT_NE(provisioners.find("\"name\":\"strict\""), std::string::npos) << provisioners;
  // The intermediate is the one that issues.
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = client().sign(csr_for(key, "cpp-info.example.com"));
  EXPECT_EQ(c.intermediates(), chain.certificate(1));
  // A client on the system roots has none of its own to hand out.
  expect_error([] { stepca::Client::Builder(env("STEPCA_URL")).build().trusted_roots_pem(); },
               STEPCA_ERR_INVALID_ARGUMENT, "client");
}

TEST(Chain, ValidityIsTheOneAskedFor) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  stepca::SignOptions opts;
  opts.not_before = unix_now() - 60;
  opts.not_after = unix_now() + 7200;
  auto chain = client().sign(csr_for(key, "cpp-validity.example.com"), opts);
  auto v = chain.validity();
  EXPECT_EQ(v.not_before, opts.not_before);
  EXPECT_EQ(v.not_after, opts.not_after);
  EXPECT_GT(chain.renew_after(), v.not_before);
  EXPECT_LT(chain.renew_after(), v.not_after);
}

TEST(Client, RekeyCertifiesTheNewKeyUnderTheSameSubject) {
  auto c = client();
  auto old_key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = c.sign(csr_for(old_key, "cpp-rekey.example.com"));
  auto new_key = stepca::Key::generate(stepca::KeyType::EcP384);
  auto rekeyed = c.rekey(chain, old_key, csr_for(new_key, "cpp-rekey.example.com"));
  EXPECT_EQ(leaf_spki(rekeyed), key_spki(new_key));
  EXPECT_NE(leaf_spki(rekeyed), leaf_spki(chain));
  EXPECT_EQ(leaf_subject(rekeyed), leaf_subject(chain));
  EXPECT_EQ(leaf_subject(rekeyed), "/CN=cpp-rekey.example.com");
  EXPECT_NE(rekeyed.serial(), chain.serial());
  // The new certificate works with the new key only.
  EXPECT_NO_THROW(c.renew(rekeyed, new_key, STEPCA_RENEW_MTLS));
  expect_error([&] { c.rekey(chain, new_key, csr_for(new_key, "cpp-rekey.example.com")); },
               STEPCA_ERR_INVALID_ARGUMENT, "key");
}

TEST(Client, RevokingWithTheCertificateMakesTheCaRefuseItsRenewal) {
  auto c = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = client().sign(csr_for(key, "cpp-revoke-mtls.example.com"));
  EXPECT_NO_THROW(c.renew(chain, key, STEPCA_RENEW_MTLS));
  stepca::RevokeOptions opts;
  opts.reason_code = 4;  // superseded
  opts.reason = "replaced by the C++ test";
  c.revoke(chain, key, opts);  // no token provider anywhere: mutual TLS only
  try {
    c.renew(chain, key, STEPCA_RENEW_MTLS);
    FAIL() << "a revoked certificate renewed";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_CA_REJECTED);
    EXPECT_EQ(e.http_status(), 401);
  }
}

TEST(Client, RevokeTokensComeFromTheOptionsProviderOrJwkProvisioner) {
  auto c = client([](const stepca::Claims &) -> std::string { throw std::runtime_error("the client's provider"); });
  auto issue = [](const stepca::Key &key, const std::string &cn) { return client().sign(csr_for(key, cn)); };
  auto refused = [&](const stepca::Chain &chain, const stepca::Key &key) {
    try {
      c.renew(chain, key, STEPCA_RENEW_MTLS);
      return false;
    } catch (const stepca::Error &e) {
      return e.code() == STEPCA_ERR_CA_REJECTED && e.http_status() == 401;
    }
  };
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto first = issue(key, "cpp-revoke-provider.example.com");
  auto second = issue(key, "cpp-revoke-jwk.example.com");
  stepca::RevokeOptions by_provider;
  by_provider.reason_code = 1;
  by_provider.reason = "key compromise drill";
  int asked = 0;
  by_provider.token_provider = [&](const stepca::Claims &claims) {
    ++asked;
    EXPECT_EQ(claims.purpose, static_cast<stepca_token_purpose>(STEPCA_TOKEN_REVOKE));
    EXPECT_EQ(claims.subject, first.serial());
    EXPECT_EQ(claims.audience, env("STEPCA_URL") + "/1.0/revoke");
    return mint_revoke(claims.subject);
  };
  c.revoke(first.serial(), by_provider);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(refused(first, key));
  EXPECT_FALSE(refused(second, key));
  auto jwk = admin_provisioner();
  stepca::RevokeOptions by_jwk;
  by_jwk.jwk_provisioner = &jwk;
  c.revoke(second.serial(), by_jwk);
  EXPECT_TRUE(refused(second, key));

  stepca::RevokeOptions both = by_provider;
  both.jwk_provisioner = &jwk;
  expect_error([&] { c.revoke("1", both); }, STEPCA_ERR_INVALID_ARGUMENT, "token_provider");
  stepca::RevokeOptions bad_reason;
  bad_reason.reason_code = 11;
  expect_error([&] { c.revoke("1", bad_reason); }, STEPCA_ERR_INVALID_ARGUMENT, "reason_code");
}

TEST(SignOptions, ACallsProviderOrJwkProvisionerReplacesTheClients) {
  int client_asked = 0;
  auto c = client([&](const stepca::Claims &) -> std::string {
    ++client_asked;
    throw std::runtime_error("the client's provider");
  });
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  std::string csr = csr_for(key, "cpp-call-provider.example.com");
  stepca::SignOptions by_provider;
  int asked = 0;
  by_provider.token_provider = [&](const stepca::Claims &claims) {
    ++asked;
    return mint(claims);
  };
  EXPECT_EQ(c.sign(csr, by_provider).size(), 2u);
  EXPECT_EQ(asked, 1);
  auto jwk = admin_provisioner();
  stepca::SignOptions by_jwk;
  by_jwk.jwk_provisioner = &jwk;
  EXPECT_EQ(c.sign(csr, by_jwk).size(), 2u);
  EXPECT_EQ(client_asked, 0);

  stepca::SignOptions throwing;
  throwing.token_provider = [](const stepca::Claims &) -> std::string { throw std::runtime_error("hsm unplugged"); };
  try {
    c.sign(csr, throwing);
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_TOKEN_PROVIDER);
    EXPECT_NE(std::string(e.what()).find("hsm unplugged"), std::string::npos) << e.what();
  }
  stepca::SignOptions both = by_provider;
  both.jwk_provisioner = &jwk;
  expect_error([&] { c.sign(csr, both); }, STEPCA_ERR_INVALID_ARGUMENT, "token_provider");
  EXPECT_EQ(client_asked, 0);
}

TEST(JwkProvisioner, LoadedOfflineItMintsTokensTheCaAccepts) {
  std::string entry = admin_entry();
  auto from_entry = stepca::JwkProvisioner::load(entry, password());
  // The entry's encrypted key alone (a compact JWE) needs the provisioner's name.
  const std::string field = "\"encryptedKey\": \"";
  size_t at = entry.find(field) + field.size();
  std::string jwe = entry.substr(at, entry.find('"', at) - at);
  auto from_jwe = stepca::JwkProvisioner::load(jwe, password(), "admin");
  expect_error([&] { stepca::JwkProvisioner::load(jwe, password()); }, STEPCA_ERR_INVALID_ARGUMENT, "provisioner");
  try {
    stepca::JwkProvisioner::load(entry, "not-the-password");
    FAIL() << "a wrong provisioner password was accepted";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_KEY_PASSPHRASE);
  }

  auto c = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  const std::string cn = "cpp-offline.example.com";
  stepca::SignOptions opts;
  opts.token = from_entry.sign_token(cn, {cn}, env("STEPCA_URL") + "/1.0/sign");
  auto chain = c.sign(csr_for(key, cn), opts);
  opts.token = from_jwe.sign_token(cn, {cn}, env("STEPCA_URL") + "/1.0/sign");
  auto other = c.sign(csr_for(key, cn), opts);
  stepca::RevokeOptions revoke;
  revoke.token = from_jwe.revoke_token(chain.serial(), env("STEPCA_URL") + "/1.0/revoke");
  c.revoke(chain.serial(), revoke);
  expect_error([&] { c.renew(chain, key, STEPCA_RENEW_MTLS); }, STEPCA_ERR_CA_REJECTED, "renew");
  EXPECT_NO_THROW(c.renew(other, key, STEPCA_RENEW_MTLS));
}

TEST(JwkProvisioner, LifetimeShapesTokensAndIsFixedOnceAClientHasIt) {
  auto p = admin_provisioner();
  const std::string aud = env("STEPCA_URL") + "/1.0/sign";
  std::string token = p.sign_token("x.example.com", {}, aud);
  EXPECT_EQ(jwt_claim(token, "exp") - jwt_claim(token, "nbf"), 300);
  p.lifetime(std::chrono::seconds(60));
  token = p.sign_token("x.example.com", {}, aud);
  EXPECT_EQ(jwt_claim(token, "exp") - jwt_claim(token, "nbf"), 60);
  expect_error([&] { p.lifetime(std::chrono::seconds(5)); }, STEPCA_ERR_INVALID_ARGUMENT, "token_lifetime");
  expect_error([&] { p.lifetime(std::chrono::hours(24 * 365 * 200)); }, STEPCA_ERR_INVALID_ARGUMENT, "token_lifetime");
  {
    stepca::Client::Builder b(env("STEPCA_URL"));
    b.jwk_provisioner(p);
    expect_error([&] { p.lifetime(std::chrono::seconds(120)); }, STEPCA_ERR_INVALID_ARGUMENT, "provisioner");
  }
  p.lifetime(std::chrono::seconds(120));  // the builder is gone
  token = p.sign_token("x.example.com", {}, aud);
  EXPECT_EQ(jwt_claim(token, "exp") - jwt_claim(token, "nbf"), 120);
}

TEST(Builder, RetriesRepeatAGetTheCaAnsweredWith5xx) {
  std::atomic<int> requests{0};
  Server unavailable([&](int fd, const std::atomic<bool> &stop) {
    if (read_head(fd, stop).empty()) return;
    ++requests;
    const char answer[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(fd, answer, sizeof answer - 1);
  });
  std::string url = "http://127.0.0.1:" + std::to_string(unavailable.port());
  expect_error([&] { stepca::Client::Builder(url).build(); }, STEPCA_ERR_INVALID_ARGUMENT, "ca_url");
  for (uint32_t attempts : {1u, 4u}) {
    requests = 0;
    auto c = stepca::Client::Builder(url)
                 .allow_insecure_http()
                 .retries(attempts, std::chrono::milliseconds(10), std::chrono::milliseconds(20))
                 .build();
    try {
      c.health();
      FAIL() << "a 503 was healthy";
    } catch (const stepca::Error &e) {
      EXPECT_EQ(e.code(), STEPCA_ERR_CA_REJECTED) << e.what();
      EXPECT_EQ(e.http_status(), 503) << e.what();
    }
    EXPECT_EQ(requests.load(), static_cast<int>(attempts));
  }
  auto ms = [](int n) { return std::chrono::milliseconds(n); };
  expect_error([&] { stepca::Client::Builder(url).retries(0, ms(10), ms(20)); }, STEPCA_ERR_INVALID_ARGUMENT,
               "max_attempts");
  expect_error([&] { stepca::Client::Builder(url).retries(3, ms(20), ms(10)); }, STEPCA_ERR_INVALID_ARGUMENT,
               "max_backoff");
}

TEST(Builder, AProxyCarriesTheCallsAndABadProxyUrlIsNamed) {
  ConnectProxy proxy;
  {
    auto c = stepca::Client::Builder(env("STEPCA_URL"))
                 .root_file(env("STEPCA_ROOT"))
                 .proxy("http://127.0.0.1:" + std::to_string(proxy.server.port()))
                 .jwk_provisioner(admin_provisioner())
                 .build();
    c.health();
    auto key = stepca::Key::generate(stepca::KeyType::EcP256);
    EXPECT_EQ(c.sign(csr_for(key, "cpp-proxied.example.com")).size(), 2u);
  }
  std::lock_guard<std::mutex> lock(proxy.mu);
  ASSERT_FALSE(proxy.targets.empty());
  for (const auto &t : proxy.targets) EXPECT_EQ("https://" + t, env("STEPCA_URL"));
  expect_error([] { stepca::Client::Builder(env("STEPCA_URL")).proxy("not a proxy url").build(); },
               STEPCA_ERR_INVALID_ARGUMENT, "proxy");
}

TEST(Builder, DisablingTlsVerificationReachesACaNoRootVouchesFor) {
  try {
    stepca::Client::Builder(env("STEPCA_URL")).build().health();
    FAIL() << "the test CA was trusted without its root";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_TLS) << e.what();
  }
  EXPECT_NO_THROW(stepca::Client::Builder(env("STEPCA_URL")).dangerous_disable_tls_verification().build().health());
}

namespace {

// A device's birth certificate (IDevID): the rig's factory CA certifies `birth_csr` (PEM)
// with `step certificate sign` and `extra` flags.
stepca::Chain birth_certificate(const std::string &birth_csr, const std::string &extra = "") {
  char dir[] = "/tmp/stepca-cpp-x5c.XXXXXX";
  if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
  std::string path = std::string(dir) + "/idevid.csr";
  std::ofstream(path) << birth_csr;
  std::string pem = run("step certificate sign " + quote(path) + " " + quote(env("STEPCA_FACTORY_ROOT")) + " " +
                        quote(env("STEPCA_FACTORY_KEY")) + " " + extra);
  run("rm -rf " + quote(dir));
  return stepca::Chain::load(pem);
}

// An IDevID key held by OpenSSL behind the algorithm-aware signer, recording what it is
// asked for.
struct Idevid {
  Pkey pkey{EVP_EC_gen("P-256")};
  std::vector<stepca_sig_alg> asked;
  stepca::ExternalKey key{spki(pkey.get()), STEPCA_SIG_ECDSA_P256_SHA256,
                          [this](stepca_sig_alg alg, const std::string &msg) {
                            asked.push_back(alg);
                            return openssl_sign(pkey.get(), alg, msg);
                          }};
  stepca::Chain birth(const std::string &serial, const std::string &extra = "") {
    return birth_certificate(key.csr(stepca::CsrRequest().subject("CN", serial)), extra);
  }
};

stepca::Client plain_client() {
  return stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
}

// base64url without padding, as the CSR fingerprint is written.
std::string base64url(const std::string &bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(&out[0]), reinterpret_cast<const unsigned char *>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char &c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

}  // namespace

TEST(X5cProvisioner, AnOpensslHeldIdevidEnrollsAndRevokes) {
  Idevid idevid;
  auto birth = idevid.birth("SN-CPP-0001");
  stepca::Credential factory(birth, idevid.key);
  stepca::X5cProvisioner x5c(env("STEPCA_X5C_PROVISIONER"), factory);
  idevid.asked.clear();  // the birth CSR's signature

  // Per call: the factory key signs the one token, with its own algorithm.
  auto c = plain_client();
  auto op = stepca::Key::generate(stepca::KeyType::EcP256);
  stepca::SignOptions opts;
  opts.x5c_provisioner = &x5c;
  auto chain = c.sign(csr_for(op, "cpp-x5c.example.com"), opts);
  EXPECT_EQ(leaf_spki(chain), key_spki(op));
  EXPECT_EQ(leaf_subject(chain), "/CN=cpp-x5c.example.com");
  EXPECT_LE(chain.validity().not_after, birth.validity().not_after);  // step-ca caps it there
  EXPECT_EQ(idevid.asked, std::vector<stepca_sig_alg>{STEPCA_SIG_ECDSA_P256_SHA256});

  // A revoke token from the same factory identity.
  stepca::RevokeOptions revoke;
  revoke.reason_code = 1;
  revoke.x5c_provisioner = &x5c;
  c.revoke(chain.serial(), revoke);
  expect_error([&] { c.renew(chain, op, STEPCA_RENEW_MTLS); }, STEPCA_ERR_CA_REJECTED, "renew");
  EXPECT_EQ(idevid.asked.size(), 2u);

  stepca::RevokeOptions both = revoke;
  both.token_provider = mint;
  expect_error([&] { c.revoke("1", both); }, STEPCA_ERR_INVALID_ARGUMENT, "token_provider");
}

TEST(X5cProvisioner, AClientKeepsItAndTheFactorySignFunctionAlive) {
  std::optional<stepca::Client> c;
  {
    // The sign function owns the OpenSSL key, so only what the client keeps keeps it.
    std::shared_ptr<EVP_PKEY> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
    ASSERT_NE(pkey, nullptr);
    stepca::ExternalKey key(spki(pkey.get()), STEPCA_SIG_ECDSA_P256_SHA256,
                            [pkey](stepca_sig_alg alg, const std::string &msg) { return openssl_sign(pkey.get(), alg, msg); });
    auto birth = birth_certificate(key.csr(stepca::CsrRequest().subject("CN", "SN-CPP-0002")));
    stepca::X5cProvisioner x5c(env("STEPCA_X5C_PROVISIONER"), stepca::Credential(birth, key));
    x5c.lifetime(std::chrono::seconds(60));
    c.emplace(stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).x5c_provisioner(x5c).build());
    expect_error([&] { x5c.lifetime(std::chrono::seconds(120)); }, STEPCA_ERR_INVALID_ARGUMENT, "provisioner");
    expect_error([&] { stepca::X5cProvisioner(env("STEPCA_X5C_PROVISIONER"), stepca::Credential(birth, key))
                           .lifetime(std::chrono::seconds(5)); },
                 STEPCA_ERR_INVALID_ARGUMENT, "token_lifetime");
  }  // the provisioner, its credential, the key, its sign function and the OpenSSL key are
     // gone here, but for what the client keeps: ASan and valgrind watch the calls below.
  auto op = stepca::Key::generate(stepca::KeyType::EcP256);
  auto chain = c->sign(csr_for(op, "cpp-x5c-client.example.com"));
  EXPECT_EQ(leaf_spki(chain), key_spki(op));
  EXPECT_NO_THROW(c->revoke(chain.serial()));
  c.reset();  // frees the C client, then the sign function and the OpenSSL key
}

TEST(X5cProvisioner, WhatStepCaWouldRefuseIsRefusedHereFirst) {
  Idevid idevid;
  // A birth certificate whose keyUsage lacks digitalSignature.
  char tpl[] = "/tmp/stepca-cpp-x5c-tpl.XXXXXX";
  int fd = mkstemp(tpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(tpl) << R"({"subject": {{ toJson .Subject }}, "keyUsage": ["keyEncipherment"], "extKeyUsage": ["clientAuth"]})";
  auto no_ds = idevid.birth("SN-CPP-BAD", "--template " + quote(tpl));
  std::remove(tpl);
  expect_error([&] { stepca::X5cProvisioner(env("STEPCA_X5C_PROVISIONER"), stepca::Credential(no_ds, idevid.key)); },
               STEPCA_ERR_INVALID_ARGUMENT, "factory");

  // A notAfter past the birth certificate's: refused before anything is sent.
  stepca::X5cProvisioner x5c(env("STEPCA_X5C_PROVISIONER"),
                             stepca::Credential(idevid.birth("SN-CPP-SHORT", "--not-after 1h"), idevid.key));
  idevid.asked.clear();
  auto op = stepca::Key::generate(stepca::KeyType::EcP256);
  stepca::SignOptions opts;
  opts.x5c_provisioner = &x5c;
  opts.not_after = unix_now() + 2 * 3600;
  try {
    plain_client().sign(csr_for(op, "cpp-x5c-long.example.com"), opts);
    FAIL() << "no exception";
  } catch (const stepca::Error &e) {
    EXPECT_EQ(e.code(), STEPCA_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(e.what()).rfind("not_after: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("factory certificate's notAfter"), std::string::npos) << e.what();
    EXPECT_EQ(e.http_status(), 0);
  }
  EXPECT_TRUE(idevid.asked.empty());
}

TEST(SignOptions, AProviderIsToldTheCsrFingerprintAndTheTokenWins) {
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  const std::string cn = "cpp-fingerprint.example.com";
  std::string der = stepca::CsrRequest().subject("CN", cn).dns(cn).build(key, STEPCA_FORMAT_DER);
  std::vector<stepca::Claims> told;
  stepca::SignOptions opts;
  opts.token_provider = [&](const stepca::Claims &c) {
    told.push_back(c);
    return mint(c);
  };
  opts.not_after = unix_now() + 3600;
  // A PEM CSR's fingerprint is over its DER, as OpenSSL decodes it.
  std::string pem = stepca::CsrRequest().subject("CN", cn).dns(cn).build(key);
  BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_REQ *req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(req, nullptr);
  unsigned char *p = nullptr;
  int n = i2d_X509_REQ(req, &p);
  std::string pem_der(reinterpret_cast<char *>(p), static_cast<size_t>(n > 0 ? n : 0));
  OPENSSL_free(p);
  X509_REQ_free(req);
  auto chain = plain_client().sign(pem, opts);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].csr_fingerprint, base64url(digest_of(EVP_sha256(), pem_der)));
  EXPECT_EQ(told[0].not_after, opts.not_after);
  opts.not_after = 0;
  plain_client().sign(der, opts);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[1].csr_fingerprint, base64url(digest_of(EVP_sha256(), der)));
  EXPECT_EQ(told[1].not_after, 0);

  // A token given with a provider wins, as SignOptions says: the provider is not asked.
  stepca::Claims claims;
  claims.subject = cn;
  claims.sans = {cn};
  opts.token = mint(claims);
  EXPECT_NO_THROW(plain_client().sign(der, opts));
  EXPECT_EQ(told.size(), 2u);

  stepca::RevokeOptions revoke;
  revoke.token_provider = [&](const stepca::Claims &c) {
    told.push_back(c);
    return mint_revoke(c.subject);
  };
  plain_client().revoke(chain.serial(), revoke);
  ASSERT_EQ(told.size(), 3u);
  EXPECT_EQ(told[2].csr_fingerprint, "");
  EXPECT_EQ(told[2].not_after, 0);
}

// ---------------------------------------------------------------------------------------
// The background renewer.

namespace {

using namespace std::chrono_literals;
using Kind = stepca::RenewerEventKind;

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A credential for `key` whose certificate has `seconds` left when it arrives (step-ca
// back-dates notBefore). notAfter is absolute and renewals keep the life the first
// certificate had left, so time lost before step-ca signs (valgrind, a loaded machine)
// would shorten every renewal: the token is minted before notAfter is set, and a
// certificate that still arrives with less than seconds - 2 left is signed again with the
// lost time added (at most three tries).
stepca::Credential short_lived(const stepca::Client &c, const stepca::Key &key, const std::string &cn, int seconds) {
  const std::string csr = csr_for(key, cn);
  int64_t lost = 0;
  for (int attempt = 1;; ++attempt) {
    stepca::SignOptions opts;
    stepca::Claims claims;
    claims.subject = cn;
    opts.token = mint(claims);
    opts.not_after = unix_now() + seconds + lost;
    auto chain = c.sign(csr, opts);
    const int64_t left = chain.validity().not_after - unix_now();
    if (attempt == 3 || left >= seconds - 2) return stepca::Credential(chain, key);
    lost += seconds - left;
  }
}

// An EC P-256 key held by OpenSSL behind a sign function that owns it.
stepca::ExternalKey openssl_held_key() {
  std::shared_ptr<EVP_PKEY> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!pkey) throw std::runtime_error("EVP_EC_gen");
  return stepca::ExternalKey(spki(pkey.get()), STEPCA_SIG_ECDSA_P256_SHA256,
                             [pkey](stepca_sig_alg alg, const std::string &msg) { return openssl_sign(pkey.get(), alg, msg); });
}

// A credential for a new OpenSSL-held key, living an hour.
stepca::Credential held_credential(const stepca::Client &c, const stepca::ExternalKey &key, const std::string &cn) {
  stepca::SignOptions opts;
  opts.not_after = unix_now() + 3600;
  return stepca::Credential(c.sign(key.csr(stepca::CsrRequest().subject("CN", cn).dns(cn)), opts), key);
}

// What a renewer's event function saw, recorded on the renewer's thread; the test thread
// waits for it and checks it under the lock.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<stepca::RenewerEvent> events;  // without their credentials
  std::vector<std::string> serials;          // of each Renewed credential
  std::vector<std::string> leaf_keys;        // the SPKI of each Renewed credential's leaf
  std::vector<std::string> key_pems;         // each Renewed credential's key in memory, or ""

  // Records `e` (with what it read on disk meanwhile) and wakes the waiters.
  void record(const stepca::RenewerEvent &e) {
    std::string serial, leaf_key, pem;
    if (e.credential) {
      auto chain = e.credential->chain();
      serial = chain.serial();
      leaf_key = leaf_spki(chain);
      try {
        pem = e.credential->key().pem();
      } catch (const stepca::Error &) {
        // a held key
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    stepca::RenewerEvent copy;
    copy.kind = e.kind;
    copy.attempt = e.attempt;
    copy.at = e.at;
    copy.rekeyed = e.rekeyed;
    copy.error = e.error;
    events.push_back(std::move(copy));
    if (e.kind == Kind::Renewed) {
      serials.push_back(serial);
      leaf_keys.push_back(leaf_key);
      key_pems.push_back(pem);
    }
    cv.notify_all();
  }
  size_t count(Kind kind) {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const auto &e) { return e.kind == kind; }));
  }
  // Waits until `done` holds under the lock, at most `timeout`.
  template <typename P>
  bool wait(std::chrono::seconds timeout, P done) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, done);
  }
};

// How long `f` takes.
template <typename F>
std::chrono::steady_clock::duration timed(F &&f) {
  auto t = std::chrono::steady_clock::now();
  f();
  return std::chrono::steady_clock::now() - t;
}

}  // namespace

TEST(Renewer, RenewsTwiceInARowWritingEachChainBeforeItsEventAndRekeysEverySecondRenewal) {
  char dir[] = "/tmp/stepca-cpp-renewer.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string cert = std::string(dir) + "/device.crt", key_file = std::string(dir) + "/device.key";
  auto c = client();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  auto first = short_lived(c, key, "cpp-renewer.example.com", 10);
  Seen seen;
  std::vector<std::string> on_disk;  // the cert file's serial as each Renewed event arrived
  stepca::Renewer r(c, first, [&](const stepca::RenewerEvent &e) {
    if (e.kind == Kind::Renewed) {
      std::string serial;
      try {
        serial = stepca::Chain::load(slurp(cert)).serial();
      } catch (const stepca::Error &) {
      }
      std::lock_guard<std::mutex> lock(seen.mu);
      on_disk.push_back(serial);
    }
    seen.record(e);
  });
  r.files(cert, key_file).rekey(2).retry(300ms, 2000ms);
  const auto started = std::chrono::system_clock::now();
  r.start();
  // Each renewal is due half-way through what is left of ~10 s.
  ASSERT_TRUE(seen.wait(40s, [&] { return seen.serials.size() >= 2; }));
  EXPECT_LT(timed([&] { r.stop(); }), 1s);

  std::unique_lock<std::mutex> lock(seen.mu);
  const size_t reported = seen.events.size();
  EXPECT_EQ(seen.count(Kind::Failed), 0u);
  EXPECT_EQ(seen.count(Kind::WriteFailed), 0u);
  EXPECT_GE(seen.count(Kind::Scheduled), 2u);
  // The first was scheduled, not in the past (whole seconds: up to one before the start).
  EXPECT_GE(seen.events.front().at, started - 1s);
  ASSERT_EQ(on_disk.size(), seen.serials.size());
  for (size_t i = 0; i < seen.serials.size(); ++i) EXPECT_EQ(on_disk[i], seen.serials[i]) << "renewal " << i;
  EXPECT_NE(seen.serials[0], first.chain().serial());
  EXPECT_NE(seen.serials[1], seen.serials[0]);
  // The first renewal keeps the key, the second is a rekey to a new one.
  std::vector<bool> rekeyed;
  for (const auto &e : seen.events)
    if (e.kind == Kind::Renewed) rekeyed.push_back(e.rekeyed);
  EXPECT_FALSE(rekeyed[0]);
  EXPECT_TRUE(rekeyed[1]);
  EXPECT_EQ(seen.key_pems[0], key.pem());
  EXPECT_NE(seen.key_pems[1], key.pem());
  EXPECT_EQ(seen.leaf_keys[1], key_spki(stepca::Key::load(seen.key_pems[1])));

  const std::string last_serial = seen.serials.back(), last_key = seen.key_pems.back();
  lock.unlock();

  // The current credential is the last renewed one; its key is the one on disk, 0600.
  auto now = r.credential();
  EXPECT_EQ(now.chain().serial(), last_serial);
  EXPECT_EQ(stepca::Chain::load(slurp(cert)).serial(), last_serial);
  std::string pem = now.key().pem();
  EXPECT_EQ(pem, slurp(key_file));
  EXPECT_EQ(pem, last_key);
  struct stat st {};
  ASSERT_EQ(stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(leaf_spki(now.chain()), key_spki(now.key()));
  EXPECT_NO_THROW(c.renew(now, STEPCA_RENEW_MTLS));

  // Nothing is reported once stop() returned.
  std::this_thread::sleep_for(200ms);
  lock.lock();
  EXPECT_EQ(seen.events.size(), reported);
  lock.unlock();
  run("rm -rf " + quote(dir));
}

TEST(Renewer, AHeldKeyRekeysThroughNewKeyWhoseThrowIsAFailureRetriedAndOutlivesClientAndRenewer) {
  auto time_calls = std::make_shared<std::atomic<int>>(0);
  std::optional<stepca::Client> c;
  c.emplace(stepca::Client::Builder(env("STEPCA_URL"))
                .root_file(env("STEPCA_ROOT"))
                .time_source([time_calls] {
                  ++*time_calls;
                  return unix_now();
                })
                .build());
  std::optional<stepca::Credential> first;
  {
    auto key = openssl_held_key();
    first.emplace(held_credential(client(), key, "cpp-renewer-held.example.com"));
  }  // the key is gone; the credential keeps its sign function
  Seen seen;
  int asked = 0;  // the renewer's thread only, until it is stopped
  std::string made;  // the SPKI of the key new_key made
  std::optional<stepca::Renewer> r;
  r.emplace(*c, *first, [&](const stepca::RenewerEvent &e) { seen.record(e); });
  r->rekey(1, [&]() -> stepca::ExternalKey {
     if (++asked == 1) throw std::runtime_error("token busy");
     auto key = openssl_held_key();
     made = key.public_key();
     return key;
   })
      .retry(200ms, 400ms)
      .auth(STEPCA_RENEW_MTLS);  // with AUTO a retry after a failure tries the token: a renewal
  c.reset();  // the renewer keeps the client's time source alive
  first.reset();
  int before = time_calls->load();
  const auto started = std::chrono::system_clock::now();
  r->start();
  r->renew_now();
  ASSERT_TRUE(seen.wait(20s, [&] { return seen.count(Kind::Renewed) >= 1; }));
  r->stop();
  EXPECT_GT(time_calls->load(), before);
  {
    std::lock_guard<std::mutex> lock(seen.mu);
    EXPECT_EQ(asked, 2);
    const stepca::RenewerEvent *failed = nullptr, *renewed = nullptr;
    for (const auto &e : seen.events) {
      if (e.kind == Kind::Failed && !failed) failed = &e;
      if (e.kind == Kind::Renewed && !renewed) renewed = &e;
    }
    ASSERT_NE(failed, nullptr);
    ASSERT_NE(renewed, nullptr);
    ASSERT_TRUE(failed->error.has_value());
    EXPECT_EQ(failed->error->code(), STEPCA_ERR_SIGNER);
    std::string what = failed->error->what();
    EXPECT_EQ(what.rfind("new_key:", 0), 0u) << what;
    EXPECT_NE(what.find("token busy"), std::string::npos) << what;
    EXPECT_EQ(failed->attempt, 1u);
    // The retry is due after the failure, so after the start (whole seconds: up to one before).
    EXPECT_GE(failed->at, started - 1s);
    EXPECT_TRUE(renewed->rekeyed);
    EXPECT_FALSE(renewed->error.has_value());
    // The event's credential is an owned copy of the held one: the new key's certificate.
    EXPECT_EQ(seen.leaf_keys.back(), made);
    EXPECT_EQ(seen.key_pems.back(), "");
  }
  auto now = r->credential();
  expect_error([&] { now.key(); }, STEPCA_ERR_INVALID_ARGUMENT, "credential");
  r.reset();  // the renewer, its new_key and the client are gone: the credential keeps the sign function
  auto renewed = client().renew(now, STEPCA_RENEW_MTLS);
  EXPECT_EQ(leaf_spki(renewed), made);
}

TEST(Renewer, AThrowingEventFunctionDoesNotStopItAndStopFromTheFunctionOnlyAsks) {
  auto c = client();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  stepca::Credential cred(c.sign(csr_for(key, "cpp-renewer-throw.example.com")), key);
  Seen seen;
  std::atomic<bool> stop_from_callback{false}, release{false}, returned{false};
  std::optional<stepca::Renewer> r;
  r.emplace(c, cred, [&](const stepca::RenewerEvent &e) {
    if (stop_from_callback) r->stop();
    seen.record(e);
    if (stop_from_callback) {
      // Held until the test lets go (at most 20 s), so the test sees it still running.
      for (int i = 0; i < 2000 && !release; ++i) std::this_thread::sleep_for(10ms);
      returned = true;
    }
    if (e.kind == Kind::Scheduled) throw std::runtime_error("a bug in the event function");
    throw 42;  // not even a std::exception
  });
  r->start();
  ASSERT_TRUE(seen.wait(10s, [&] { return seen.events.size() >= 1; }));
  r->renew_now();  // the function threw on Scheduled; the renewer still renews and reports
  ASSERT_TRUE(seen.wait(10s, [&] { return seen.count(Kind::Renewed) >= 1 && seen.count(Kind::Scheduled) >= 2; }));
  {
    std::lock_guard<std::mutex> lock(seen.mu);
    EXPECT_EQ(seen.events[0].kind, Kind::Scheduled);
    EXPECT_EQ(seen.events[1].kind, Kind::Renewed);
    EXPECT_EQ(seen.events[2].kind, Kind::Scheduled);
  }
  EXPECT_NE(r->credential().chain().serial(), cred.chain().serial());
  r->stop();

  // Started again from its current credential; stop() from the function only asks: no
  // further event, settings change again, and the destructor waits for the function.
  size_t reported = seen.events.size();
  stop_from_callback = true;
  r->start();
  ASSERT_TRUE(seen.wait(10s, [&] { return seen.events.size() > reported; }));
  r->renew_now();
  EXPECT_NO_THROW(r->two_thirds());
  EXPECT_FALSE(returned);
  // The destructor waits for the function, which returns only once released.
  std::thread releaser([&] {
    std::this_thread::sleep_for(200ms);
    release = true;
  });
  r.reset();
  EXPECT_TRUE(returned);
  releaser.join();
  std::lock_guard<std::mutex> lock(seen.mu);
  EXPECT_EQ(seen.events.size(), reported + 1) << "an event after the function stopped the renewer";
}

TEST(Renewer, SettingsThatCannotWorkAreRefusedNamingTheFieldAndAMovedFromOneIsSafe) {
  auto c = client();
  auto key = stepca::Key::generate(stepca::KeyType::EcP256);
  stepca::Credential cred(c.sign(csr_for(key, "cpp-renewer-args.example.com")), key);
  auto held_key = openssl_held_key();
  auto held = held_credential(c, held_key, "cpp-renewer-args-held.example.com");
  expect_error([&] { held.key(); }, STEPCA_ERR_INVALID_ARGUMENT, "credential");
  EXPECT_EQ(cred.key().pem(), key.pem());

  // A held key is rekeyed only with a new-key function.
  stepca::Renewer h(c, held, nullptr);
  h.rekey(1);
  expect_error([&] { h.start(); }, STEPCA_ERR_INVALID_ARGUMENT, "new_key");
  h.rekey(1, [] { return openssl_held_key(); });
  EXPECT_NO_THROW(h.start());
  h.stop();

  stepca::Renewer r(c, cred, [](const stepca::RenewerEvent &) {});
  expect_error([&] { r.expires_in(0s); }, STEPCA_ERR_INVALID_ARGUMENT, "seconds");
  expect_error([&] { r.renew_period(-5s); }, STEPCA_ERR_INVALID_ARGUMENT, "seconds");
  expect_error([&] { r.auth(7); }, STEPCA_ERR_INVALID_ARGUMENT, "auth");
  r.retry(5000ms, 1000ms);
  expect_error([&] { r.start(); }, STEPCA_ERR_INVALID_ARGUMENT, "retry_max");
  r.retry(0ms, 1000ms);
  expect_error([&] { r.start(); }, STEPCA_ERR_INVALID_ARGUMENT, "retry_min");
  r.retry(1000ms, 1000ms).files("/tmp/stepca-cpp-never-written.crt").rekey(2);
  expect_error([&] { r.start(); }, STEPCA_ERR_INVALID_ARGUMENT, "key_file");
  r.files("").rekey(0).expires_in(1h).renew_period(std::chrono::hours(24)).two_thirds().auth(STEPCA_RENEW_MTLS);
  r.start();
  expect_error([&] { r.start(); }, STEPCA_ERR_INVALID_ARGUMENT, "renewer");
  expect_error([&] { r.files(""); }, STEPCA_ERR_INVALID_ARGUMENT, "renewer");
  expect_error([&] { r.rekey(1, [] { return openssl_held_key(); }); }, STEPCA_ERR_INVALID_ARGUMENT, "renewer");
  EXPECT_NO_THROW(r.replace(cred));

  // Moved from, it is safe to stop and destroy; its calls throw naming the renewer.
  stepca::Renewer moved(std::move(r));
  EXPECT_EQ(r.get(), nullptr);
  r.stop();
  expect_error([&] { r.credential(); }, STEPCA_ERR_NULL_ARGUMENT, "renewer");
  expect_error([&] { r.renew_now(); }, STEPCA_ERR_NULL_ARGUMENT, "renewer");
  expect_error([&] { r.replace(cred); }, STEPCA_ERR_NULL_ARGUMENT, "renewer");
  expect_error([&] { r.rekey(1); }, STEPCA_ERR_NULL_ARGUMENT, "renewer");
  EXPECT_EQ(moved.credential().chain().serial(), cred.chain().serial());
  // Assigned over, a running renewer is stopped and freed before its callbacks go.
  moved = std::move(h);
  EXPECT_EQ(h.get(), nullptr);
  EXPECT_EQ(moved.credential().chain().serial(), held.chain().serial());
  {
    stepca::Renewer gone(std::move(moved));
  }
  stepca::Renewer scratch(std::move(moved));  // moved-from twice, destroyed at the end
}

TEST(Log, RecordsReachTheFunctionWithoutASecretAThrowIsDroppedAndOffStopsThem) {
  struct Rec {
    stepca::LogLevel level;
    std::string target, message;
  };
  auto mu = std::make_shared<std::mutex>();
  auto recs = std::make_shared<std::vector<Rec>>();
  stepca::set_log_callback(stepca::LogLevel::Debug,
                           [mu, recs](stepca::LogLevel l, const std::string &t, const std::string &m) {
                             std::lock_guard<std::mutex> g(*mu);
                             recs->push_back({l, t, m});
                           });
  std::string token;
  auto c = client([&](const stepca::Claims &cl) { return token = mint(cl); });
  stepca::Key key = stepca::Key::generate(stepca::KeyType::EcP256);
  c.sign(csr_for(key, "log.cpp.example.com"));
  {
    std::lock_guard<std::mutex> g(*mu);
    auto has = [&](const std::string &target, const std::string &text) {
      for (const auto &r : *recs)
        if (r.target.rfind(target, 0) == 0 && r.message.find(text) != std::string::npos) return true;
      return false;
    };
    EXPECT_TRUE(has("stepca::http", "POST /1.0/sign"));
    EXPECT_TRUE(has("stepca::http", "HTTP 201 after "));
    EXPECT_TRUE(has("rustls", ""));
    ASSERT_GT(token.size(), 40u);
    for (const auto &r : *recs) {
      EXPECT_LE(static_cast<int>(r.level), static_cast<int>(stepca::LogLevel::Debug)) << r.message;
      EXPECT_EQ(r.message.find(token.substr(token.size() - 40)), std::string::npos) << r.message;
    }
  }
  // A function that throws: the call goes on, the exception never reaches C.
  stepca::set_log_callback(stepca::LogLevel::Info, [](stepca::LogLevel, const std::string &, const std::string &) {
    throw std::runtime_error("log sink down");
  });
  c.health();
  stepca::set_log_callback(stepca::LogLevel::Off, nullptr);
  size_t before = recs->size();
  c.health();
  EXPECT_EQ(recs->size(), before);
  expect_error(
      [] {
        stepca::detail::call([](stepca_error **e) { return stepca_set_log_callback(9, nullptr, nullptr, e); });
      },
      STEPCA_ERR_INVALID_ARGUMENT, "max_level");
}

TEST(PasswordFile, ReadAsStepReadsItAndTheCaAcceptsThePassword) {
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/stepca-cpp-pw-" +
                     std::to_string(::getpid());
  {
    std::ofstream out(path, std::ios::binary);
    out << password() << "\r\n \n";
  }
  std::string pw = stepca::read_password_file(path);
  EXPECT_EQ(pw, password());
  auto base = stepca::Client::Builder(env("STEPCA_URL")).root_file(env("STEPCA_ROOT")).build();
  stepca::JwkProvisioner::fetch(base, "admin", pw);
  std::remove(path.c_str());
  expect_error([&] { stepca::read_password_file(path); }, STEPCA_ERR_IO, path);
}
