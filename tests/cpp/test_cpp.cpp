// GoogleTest tests of bindings/cpp/stepca.hpp against a real step-ca (run under
// scripts/with-ca.sh): owners free exactly once, exceptions carry code, HTTP status and
// messages, and a std::function token provider works (and may throw). A std::function
// time source outlives the builder, its exceptions never reach C, and the clock's failures
// (skew past step-ca's leeway, a clock before the root) are told apart.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>

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
  std::FILE *f = std::fopen("/tmp/stepca-cpp-test.csr", "w");
  std::fwrite(csr.data(), 1, csr.size(), f);
  std::fclose(f);
  std::string text = run("openssl req -verify -noout -text -in /tmp/stepca-cpp-test.csr 2>&1");
  std::remove("/tmp/stepca-cpp-test.csr");
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
  std::string token = run("STEP_TOKEN_FLAGS=--revoke scripts/mint-token.sh " + renewed.serial());
  while (!token.empty() && token.back() == '\n') token.pop_back();
  c.revoke(renewed.serial(), 1, token);
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

TEST(ExternalKey, AnOpensslHeldKeyEnrollsAndRenews) {
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  ASSERT_NE(pkey, nullptr);
  unsigned char *spki = nullptr;
  int n = i2d_PUBKEY(pkey, &spki);
  std::string public_key(reinterpret_cast<char *>(spki), static_cast<size_t>(n));
  OPENSSL_free(spki);
  int signatures = 0;
  stepca::ExternalKey key(public_key, STEPCA_SIG_ECDSA_P256_SHA256, [&](const std::string &msg) {
    ++signatures;
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
  });
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
