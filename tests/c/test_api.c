/* The C API without a CA: versions, status strings, capabilities, keys, CSRs (checked by
 * openssl), ownership, and a bad-input table (NULL pointers, zero lengths, non-UTF-8,
 * out-of-range enums) that must give stable codes and messages naming the argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static char *tmp;

/* Expects `st` to be `want` with a message that starts with `field`. Frees the error. */
static void expect_err(stepca_status st, stepca_error *err, stepca_status want, const char *field,
                       int line) {
  char detail[512];
  snprintf(detail, sizeof detail, "line %d: status %d, message '%s'", line, (int)st,
           err ? stepca_error_message(err) : "(none)");
  h_check(st == want, __FILE__, line, "status", detail);
  h_check(err != NULL && stepca_error_code(err) == want, __FILE__, line, "error code", detail);
  h_check(err != NULL && strncmp(stepca_error_message(err), field, strlen(field)) == 0 &&
              stepca_error_message(err)[strlen(field)] == ':',
          __FILE__, line, "message names the field", detail);
  stepca_error_free(err);
}
#define EXPECT_ERR(call, want, field)                                                        \
  do {                                                                                       \
    stepca_error *e_ = NULL;                                                                 \
    stepca_status s_ = (call);                                                               \
    expect_err(s_, e_, want, field, __LINE__);                                               \
  } while (0)
/* The calls below name their error argument `&e_`. */

static void test_versions(void) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", STEPCA_VERSION_MAJOR, STEPCA_VERSION_MINOR, STEPCA_VERSION_PATCH);
  CHECK(strcmp(stepca_version(), want) == 0);
  CHECK(stepca_version_number() == STEPCA_VERSION_NUMBER);
  CHECK(STEPCA_VERSION_NUMBER ==
        STEPCA_VERSION_MAJOR * 1000000 + STEPCA_VERSION_MINOR * 1000 + STEPCA_VERSION_PATCH);
}

static void test_status_strings(void) {
  const int codes[] = {STEPCA_OK, STEPCA_ERR_INVALID_ARGUMENT, STEPCA_ERR_NULL_ARGUMENT,
                       STEPCA_ERR_PANIC, STEPCA_ERR_INTERNAL, STEPCA_ERR_UNSUPPORTED,
                       STEPCA_ERR_KEY, STEPCA_ERR_KEY_PASSPHRASE, STEPCA_ERR_CSR,
                       STEPCA_ERR_TOKEN_PROVIDER, STEPCA_ERR_NO_TOKEN, STEPCA_ERR_TRANSPORT,
                       STEPCA_ERR_TLS, STEPCA_ERR_TIMEOUT, STEPCA_ERR_CA_REJECTED,
                       STEPCA_ERR_MALFORMED_RESPONSE, STEPCA_ERR_CHAIN_INVALID, STEPCA_ERR_SIGNER,
                       STEPCA_ERR_FINGERPRINT, STEPCA_ERR_IO};
  /* The numbers are part of the ABI: pin them. */
  const int pinned[] = {0, 1, 2, 3, 4, 5, 10, 11, 20, 30, 31, 40, 41, 42, 50, 51, 52, 32, 60, 70};
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    CHECK(codes[i] == pinned[i]);
    const char *s = stepca_status_str(codes[i]);
    CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
    for (size_t j = 0; j < i; j++) {
      CHECK(strcmp(s, stepca_status_str(codes[j])) != 0);
    }
  }
  CHECK(strcmp(stepca_status_str(9999), "unknown status") == 0);
  CHECK(strcmp(stepca_status_str(-1), "unknown status") == 0);
}

/* Writes a CSR and asks openssl to verify it; returns openssl's text output (malloc'd). */
static char *openssl_csr(const uint8_t *csr, size_t len, int der) {
  char path[512], cmd[1024];
  snprintf(path, sizeof path, "%s/csr.%s", tmp, der ? "der" : "pem");
  CHECK(h_write_file(path, csr, len) == 0);
  snprintf(cmd, sizeof cmd, "openssl req -verify -noout -text -inform %s -in %s 2>&1", der ? "DER" : "PEM", path);
  int st = 0;
  char *out = h_run(cmd, &st);
  CHECK_MSG(st == 0 && strstr(out, "verify OK") != NULL, out);
  return out;
}

static void test_capabilities_all_work(void) {
  const char *caps = stepca_capabilities();
  CHECK(caps != NULL && caps[0] == '{');
  struct {
    const char *name;
    stepca_key_type type;
    const char *openssl;
  } keys[] = {{"RSA-2048", STEPCA_KEY_RSA_2048, "2048 bit"}, {"RSA-3072", STEPCA_KEY_RSA_3072, "3072 bit"},
              {"RSA-4096", STEPCA_KEY_RSA_4096, "4096 bit"}, {"EC-P256", STEPCA_KEY_EC_P256, "prime256v1"},
              {"EC-P384", STEPCA_KEY_EC_P384, "secp384r1"},  {"Ed25519", STEPCA_KEY_ED25519, "ED25519"}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", keys[i].name);
    CHECK(strstr(caps, quoted) != NULL);
    CHECK(stepca_supports(keys[i].name));
    stepca_key *key = NULL;
    stepca_csr_request *req = NULL;
    stepca_error *e = NULL;
    uint8_t *csr = NULL;
    size_t len = 0;
    CHECK_STATUS(stepca_key_generate(keys[i].type, &key, &e), e, STEPCA_OK);
    stepca_error_free(e);
    CHECK_STATUS(stepca_csr_request_new(&req, &e), e, STEPCA_OK);
    CHECK_STATUS(stepca_csr_request_add_subject(req, "CN", keys[i].name, &e), e, STEPCA_OK);
    CHECK_STATUS(stepca_create_csr(key, req, STEPCA_FORMAT_PEM, &csr, &len, &e), e, STEPCA_OK);
    CHECK(len > 0 && csr[len] == '\0' && strlen((char *)csr) == len);
    char *text = openssl_csr(csr, len, 0);
    CHECK_MSG(strstr(text, keys[i].openssl) != NULL, text);
    free(text);
    stepca_free(csr);
    stepca_csr_request_free(req);
    stepca_key_free(key);
  }
  const char *sigs[] = {"RSA-PKCS1-SHA256", "RSA-PKCS1-SHA384", "RSA-PKCS1-SHA512",
                        "ECDSA-P256-SHA256", "ECDSA-P384-SHA384", "Ed25519"};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    CHECK(stepca_supports(sigs[i]));
  }
  CHECK(stepca_supports("dns") && stepca_supports("ip") && stepca_supports("email") && stepca_supports("uri"));
  CHECK(stepca_supports("sign") && stepca_supports("csr"));
  /* The plugin advertises these without implementing them; we do not. */
  CHECK(!stepca_supports("RSA-PSS-SHA256"));
  CHECK(!stepca_supports("verify"));
  CHECK(!stepca_supports(NULL));
  CHECK(!stepca_supports("\xff"));
}

static void test_key_roundtrip_and_csr_formats(void) {
  char cmd[2048], path[512];
  snprintf(path, sizeof path, "%s/sec1.pem", tmp);
  snprintf(cmd, sizeof cmd, "openssl ecparam -name secp384r1 -genkey -out %s 2>/dev/null", path);
  int st = 0;
  free(h_run(cmd, &st));
  CHECK(st == 0);
  size_t len = 0;
  char *pem = h_read_file(path, &len);
  stepca_key *key = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_key_load((const uint8_t *)pem, len, NULL, &key, &e), e, STEPCA_OK);
  CHECK(stepca_key_algorithm(key) == STEPCA_KEY_ALG_EC_P384);
  CHECK(stepca_key_bits(key) == 384);
  uint8_t *p8 = NULL;
  size_t p8_len = 0;
  CHECK_STATUS(stepca_key_to_pem(key, &p8, &p8_len, &e), e, STEPCA_OK);
  CHECK(strncmp((char *)p8, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
  /* openssl reads our PKCS#8 export as the same key. */
  char p8path[512];
  snprintf(p8path, sizeof p8path, "%s/p8.pem", tmp);
  h_write_file(p8path, p8, p8_len);
  snprintf(cmd, sizeof cmd, "openssl pkey -in %s -pubout && openssl pkey -in %s -pubout", p8path, path);
  char *both = h_run(cmd, &st);
  size_t half = strlen(both) / 2;
  CHECK(st == 0 && strncmp(both, both + half, half) == 0);
  free(both);
  stepca_free(p8);

  stepca_csr_request *req = NULL;
  CHECK_STATUS(stepca_csr_request_new(&req, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_subject(req, "O", "Example Corp", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_subject(req, "CN", "fmt.example.com", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "fmt.example.com", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_san(req, STEPCA_SAN_IP, "::1", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_san(req, STEPCA_SAN_EMAIL, "a@example.com", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_san(req, STEPCA_SAN_URI, "urn:uuid:1234", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_set_basic_constraints(req, false, -1, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_set_key_usage(req, STEPCA_KU_DIGITAL_SIGNATURE | STEPCA_KU_KEY_AGREEMENT, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_ext_key_usage(req, "clientAuth", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_ext_key_usage(req, "1.3.6.1.5.5.7.3.17", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_set_challenge_password(req, "pw-123", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_set_signature_algorithm(req, STEPCA_SIG_ECDSA_P384_SHA384, &e), e, STEPCA_OK);
  for (int der = 0; der <= 1; der++) {
    uint8_t *csr = NULL;
    size_t csr_len = 0;
    CHECK_STATUS(stepca_create_csr(key, req, der ? STEPCA_FORMAT_DER : STEPCA_FORMAT_PEM, &csr, &csr_len, &e), e, STEPCA_OK);
    char *text = openssl_csr(csr, csr_len, der);
    CHECK_MSG(strstr(text, "Subject: O = Example Corp, CN = fmt.example.com") != NULL, text);
    CHECK_MSG(strstr(text, "DNS:fmt.example.com, IP Address:0:0:0:0:0:0:0:1, email:a@example.com, URI:urn:uuid:1234") != NULL, text);
    CHECK_MSG(strstr(text, "CA:FALSE") != NULL, text);
    CHECK_MSG(strstr(text, "Digital Signature, Key Agreement") != NULL, text);
    CHECK_MSG(strstr(text, "TLS Web Client Authentication, ipsec Internet Key Exchange") != NULL, text);
    CHECK_MSG(strstr(text, ":pw-123") != NULL, text);
    CHECK_MSG(strstr(text, "ecdsa-with-SHA384") != NULL, text);
    free(text);
    stepca_free(csr);
  }
  /* A signature algorithm that does not fit the key is refused when building. */
  CHECK_STATUS(stepca_csr_request_set_signature_algorithm(req, STEPCA_SIG_RSA_PKCS1_SHA256, &e), e, STEPCA_OK);
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  EXPECT_ERR(stepca_create_csr(key, req, STEPCA_FORMAT_PEM, &csr, &csr_len, &e_), STEPCA_ERR_INVALID_ARGUMENT, "signature_algorithm");
  CHECK(csr == NULL && csr_len == 0);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  free(pem);
}

static void test_passphrases(void) {
  char cmd[2048], path[512];
  snprintf(path, sizeof path, "%s/enc.pem", tmp);
  snprintf(cmd, sizeof cmd,
           "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | "
           "openssl ec -aes256 -passout pass:sesame -out %s 2>/dev/null", path);
  int st = 0;
  free(h_run(cmd, &st));
  CHECK(st == 0);
  size_t len = 0;
  char *pem = h_read_file(path, &len);
  CHECK(pem != NULL && strstr(pem, "Proc-Type: 4,ENCRYPTED") != NULL);
  stepca_key *key = NULL;
  EXPECT_ERR(stepca_key_load((const uint8_t *)pem, len, NULL, &key, &e_), STEPCA_ERR_KEY_PASSPHRASE, "passphrase");
  CHECK(key == NULL);
  EXPECT_ERR(stepca_key_load((const uint8_t *)pem, len, "open-sesame", &key, &e_), STEPCA_ERR_KEY_PASSPHRASE, "passphrase");
  /* The passphrase from a file as step reads it: trailing white space is not part of it. */
  char pw_path[512];
  snprintf(pw_path, sizeof pw_path, "%s/pass.txt", tmp);
  CHECK(h_write_file(pw_path, "sesame \r\n\n", 10) == 0);
  uint8_t *pw = NULL;
  size_t pw_len = 0;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_read_password_file(pw_path, &pw, &pw_len, &e), e, STEPCA_OK);
  CHECK(pw != NULL && pw_len == 6 && strcmp((const char *)pw, "sesame") == 0);
  CHECK_STATUS(stepca_key_load((const uint8_t *)pem, len, (const char *)pw, &key, &e), e, STEPCA_OK);
  CHECK(stepca_key_algorithm(key) == STEPCA_KEY_ALG_EC_P256);
  stepca_key_free(key);
  stepca_free(pw);
  pw = NULL;
  snprintf(pw_path, sizeof pw_path, "%s/missing.txt", tmp);
  EXPECT_ERR(stepca_read_password_file(pw_path, &pw, &pw_len, &e_), STEPCA_ERR_IO, pw_path);
  CHECK(pw == NULL && pw_len == 0);
  EXPECT_ERR(stepca_read_password_file(NULL, &pw, &pw_len, &e_), STEPCA_ERR_NULL_ARGUMENT, "path");
  EXPECT_ERR(stepca_read_password_file(pw_path, NULL, &pw_len, &e_), STEPCA_ERR_NULL_ARGUMENT, "password_out");
  EXPECT_ERR(stepca_read_password_file(pw_path, &pw, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "password_len");
  free(pem);
}

/* Every pointer argument, NULL in turn; zero lengths; non-UTF-8; out-of-range values. */
static void test_bad_input_table(void) {
  stepca_key *key = NULL;
  stepca_csr_request *req = NULL;
  stepca_client_builder *b = NULL;
  stepca_client *client = NULL;
  stepca_sign_options *opts = NULL;
  stepca_chain *chain = NULL;
  uint8_t *buf = (uint8_t *)"sentinel";
  size_t len = 99;
  const uint8_t data[] = "x";
  const char bad_utf8[] = "\xc3\x28";
  stepca_error *e = NULL;

  CHECK_STATUS(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_new(&req, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_new(&opts, &e), e, STEPCA_OK);

  /* keys (failed calls clear their out-pointer, so they get a spare one) */
  stepca_key *k2 = NULL;
  EXPECT_ERR(stepca_key_load(NULL, 1, NULL, &k2, &e_), STEPCA_ERR_NULL_ARGUMENT, "data");
  EXPECT_ERR(stepca_key_load(data, 0, NULL, &k2, &e_), STEPCA_ERR_INVALID_ARGUMENT, "data");
  EXPECT_ERR(stepca_key_load(data, 1, NULL, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "key_out");
  k2 = (stepca_key *)data;
  EXPECT_ERR(stepca_key_load(data, 1, NULL, &k2, &e_), STEPCA_ERR_KEY, "key");
  CHECK(k2 == NULL); /* out-pointers are cleared on failure */
  EXPECT_ERR(stepca_key_load((const uint8_t *)"-----BEGIN PRIVATE KEY-----\nAAAA", 32, NULL, &k2, &e_), STEPCA_ERR_KEY, "key");
  EXPECT_ERR(stepca_key_load(data, 1, bad_utf8, &k2, &e_), STEPCA_ERR_INVALID_ARGUMENT, "passphrase");
  EXPECT_ERR(stepca_key_generate(99, &k2, &e_), STEPCA_ERR_INVALID_ARGUMENT, "type");
  EXPECT_ERR(stepca_key_generate(STEPCA_KEY_EC_P256, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "key_out");
  EXPECT_ERR(stepca_key_to_pem(NULL, &buf, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "key");
  CHECK(buf == NULL && len == 0);
  EXPECT_ERR(stepca_key_to_pem(key, NULL, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "pem_out");
  EXPECT_ERR(stepca_key_to_pem(key, &buf, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "pem_len");
  CHECK(stepca_key_algorithm(NULL) == 0 && stepca_key_bits(NULL) == 0);

  /* CSR requests */
  EXPECT_ERR(stepca_csr_request_new(NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "request_out");
  EXPECT_ERR(stepca_csr_request_add_subject(NULL, "CN", "x", &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_add_subject(req, NULL, "x", &e_), STEPCA_ERR_NULL_ARGUMENT, "name");
  EXPECT_ERR(stepca_csr_request_add_subject(req, "CN", NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "value");
  EXPECT_ERR(stepca_csr_request_add_subject(req, "CN", bad_utf8, &e_), STEPCA_ERR_INVALID_ARGUMENT, "value");
  EXPECT_ERR(stepca_csr_request_add_subject(req, "nosuch", "x", &e_), STEPCA_ERR_INVALID_ARGUMENT, "subject");
  EXPECT_ERR(stepca_csr_request_add_subject(req, "C", "Narnia", &e_), STEPCA_ERR_INVALID_ARGUMENT, "subject.C");
  EXPECT_ERR(stepca_csr_request_add_san(NULL, STEPCA_SAN_DNS, "x", &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "value");
  EXPECT_ERR(stepca_csr_request_add_san(req, 77, "x", &e_), STEPCA_ERR_INVALID_ARGUMENT, "type");
  EXPECT_ERR(stepca_csr_request_add_san(req, STEPCA_SAN_IP, "10.0.0.256", &e_), STEPCA_ERR_INVALID_ARGUMENT, "san.ip");
  EXPECT_ERR(stepca_csr_request_add_san(req, STEPCA_SAN_EMAIL, "no-at-sign", &e_), STEPCA_ERR_INVALID_ARGUMENT, "san.email");
  EXPECT_ERR(stepca_csr_request_add_san(req, STEPCA_SAN_URI, "no scheme", &e_), STEPCA_ERR_INVALID_ARGUMENT, "san.uri");
  EXPECT_ERR(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "bad..name", &e_), STEPCA_ERR_INVALID_ARGUMENT, "san.dns");
  EXPECT_ERR(stepca_csr_request_set_basic_constraints(NULL, true, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_set_basic_constraints(req, true, 256, &e_), STEPCA_ERR_INVALID_ARGUMENT, "path_len");
  EXPECT_ERR(stepca_csr_request_set_basic_constraints(req, false, 1, &e_), STEPCA_ERR_INVALID_ARGUMENT, "basic_constraints.path_len");
  EXPECT_ERR(stepca_csr_request_set_key_usage(NULL, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_set_key_usage(req, 1u << 9, &e_), STEPCA_ERR_INVALID_ARGUMENT, "key_usage");
  EXPECT_ERR(stepca_csr_request_set_key_usage(req, 1u << 20, &e_), STEPCA_ERR_INVALID_ARGUMENT, "key_usage");
  EXPECT_ERR(stepca_csr_request_add_ext_key_usage(NULL, "serverAuth", &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_add_ext_key_usage(req, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "purpose");
  EXPECT_ERR(stepca_csr_request_add_ext_key_usage(req, "webServer", &e_), STEPCA_ERR_INVALID_ARGUMENT, "extended_key_usage");
  EXPECT_ERR(stepca_csr_request_add_ext_key_usage(req, "1.2.3.", &e_), STEPCA_ERR_INVALID_ARGUMENT, "extended_key_usage");
  EXPECT_ERR(stepca_csr_request_add_extension(NULL, "1.2.3", false, data, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_add_extension(req, NULL, false, data, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "oid");
  EXPECT_ERR(stepca_csr_request_add_extension(req, "1.2.3", false, NULL, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "der_value");
  EXPECT_ERR(stepca_csr_request_add_extension(req, "1.2.3", false, data, 0, &e_), STEPCA_ERR_INVALID_ARGUMENT, "der_value");
  EXPECT_ERR(stepca_csr_request_add_extension(req, "1.2.3", false, data, 1, &e_), STEPCA_ERR_INVALID_ARGUMENT, "extension.value");
  EXPECT_ERR(stepca_csr_request_add_extension(req, "x", false, data, 1, &e_), STEPCA_ERR_INVALID_ARGUMENT, "extension.oid");
  EXPECT_ERR(stepca_csr_request_set_challenge_password(NULL, "x", &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_set_challenge_password(req, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "challenge_password");
  EXPECT_ERR(stepca_csr_request_set_signature_algorithm(NULL, 0, &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_csr_request_set_signature_algorithm(req, 42, &e_), STEPCA_ERR_INVALID_ARGUMENT, "signature_algorithm");
  EXPECT_ERR(stepca_create_csr(NULL, req, 0, &buf, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "key");
  EXPECT_ERR(stepca_create_csr(key, NULL, 0, &buf, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  EXPECT_ERR(stepca_create_csr(key, req, 0, NULL, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "csr_out");
  EXPECT_ERR(stepca_create_csr(key, req, 0, &buf, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "csr_len");
  EXPECT_ERR(stepca_create_csr(key, req, 7, &buf, &len, &e_), STEPCA_ERR_INVALID_ARGUMENT, "format");

  /* client builder */
  EXPECT_ERR(stepca_client_builder_new(NULL, &b, &e_), STEPCA_ERR_NULL_ARGUMENT, "ca_url");
  CHECK(b == NULL);
  CHECK_STATUS(stepca_client_builder_new("https://127.0.0.1:1", &b, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_client_builder_new("https://x", NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder_out");
  stepca_client_builder *b2 = NULL;
  EXPECT_ERR(stepca_client_builder_new(bad_utf8, &b2, &e_), STEPCA_ERR_INVALID_ARGUMENT, "ca_url");
  CHECK(b2 == NULL);
  EXPECT_ERR(stepca_client_builder_set_root_pem(NULL, data, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder");
  EXPECT_ERR(stepca_client_builder_set_root_pem(b, NULL, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "root_pem");
  EXPECT_ERR(stepca_client_builder_set_root_pem(b, data, 0, &e_), STEPCA_ERR_INVALID_ARGUMENT, "root_pem");
  EXPECT_ERR(stepca_client_builder_set_root_pem(b, data, 1, &e_), STEPCA_ERR_INVALID_ARGUMENT, "root");
  EXPECT_ERR(stepca_client_builder_set_root_file(b, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "root_file");
  EXPECT_ERR(stepca_client_builder_set_root_file(b, "/nonexistent/root.crt", &e_), STEPCA_ERR_INVALID_ARGUMENT, "root_file");
  EXPECT_ERR(stepca_client_builder_allow_insecure_http(NULL, true, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder");
  EXPECT_ERR(stepca_client_builder_dangerous_disable_tls_verification(NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder");
  EXPECT_ERR(stepca_client_builder_set_timeouts(NULL, 1, 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder");
  EXPECT_ERR(stepca_client_builder_set_provisioner(b, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "provisioner");
  EXPECT_ERR(stepca_client_builder_set_provisioner(b, "", &e_), STEPCA_ERR_INVALID_ARGUMENT, "provisioner");
  EXPECT_ERR(stepca_client_builder_set_proxy(b, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "proxy");
  EXPECT_ERR(stepca_client_builder_set_token_provider(b, NULL, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "provider");
  EXPECT_ERR(stepca_client_builder_build(NULL, &client, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder");
  EXPECT_ERR(stepca_client_builder_build(b, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "client_out");
  stepca_client_builder *hb = NULL;
  CHECK_STATUS(stepca_client_builder_new("http://127.0.0.1:1", &hb, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_client_builder_build(hb, &client, &e_), STEPCA_ERR_INVALID_ARGUMENT, "ca_url");
  CHECK(client == NULL);
  stepca_client_builder_free(hb);
  CHECK_STATUS(stepca_client_builder_new("not a url", &hb, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_client_builder_build(hb, &client, &e_), STEPCA_ERR_INVALID_ARGUMENT, "ca_url");
  stepca_client_builder_free(hb);

  /* sign options and sign */
  EXPECT_ERR(stepca_sign_options_new(NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "options_out");
  EXPECT_ERR(stepca_sign_options_set_token(NULL, "t", &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  EXPECT_ERR(stepca_sign_options_set_token(opts, bad_utf8, &e_), STEPCA_ERR_INVALID_ARGUMENT, "token");
  EXPECT_ERR(stepca_sign_options_set_not_before(NULL, 0, &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  EXPECT_ERR(stepca_sign_options_set_not_after(NULL, 0, &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  EXPECT_ERR(stepca_sign_options_set_template_data(NULL, "{}", &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  EXPECT_ERR(stepca_sign_options_set_token_provider(NULL, NULL, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  CHECK_STATUS(stepca_client_builder_set_root_pem(b, (const uint8_t *)"", 0, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_client_builder_dangerous_disable_tls_verification(b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_build(b, &client, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(NULL, data, 1, NULL, &chain, &e_), STEPCA_ERR_NULL_ARGUMENT, "client");
  EXPECT_ERR(stepca_sign_cert(client, NULL, 1, NULL, &chain, &e_), STEPCA_ERR_NULL_ARGUMENT, "csr");
  EXPECT_ERR(stepca_sign_cert(client, data, 0, NULL, &chain, &e_), STEPCA_ERR_INVALID_ARGUMENT, "csr");
  EXPECT_ERR(stepca_sign_cert(client, data, 1, NULL, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain_out");
  EXPECT_ERR(stepca_sign_cert(client, data, 1, NULL, &chain, &e_), STEPCA_ERR_CSR, "csr");
  /* A good CSR, but nothing listens on port 1 and there is no token. */
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  CHECK_STATUS(stepca_create_csr(key, req, STEPCA_FORMAT_DER, &csr, &csr_len, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, csr, csr_len, NULL, &chain, &e_), STEPCA_ERR_NO_TOKEN, "token");
  CHECK_STATUS(stepca_sign_options_set_token(opts, "a.b.c", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_set_not_before(opts, 2000000000, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_set_not_after(opts, 1000000000, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, csr, csr_len, opts, &chain, &e_), STEPCA_ERR_INVALID_ARGUMENT, "not_after");
  CHECK_STATUS(stepca_sign_options_set_not_after(opts, (int64_t)1 << 62, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, csr, csr_len, opts, &chain, &e_), STEPCA_ERR_INVALID_ARGUMENT, "not_after");
  CHECK_STATUS(stepca_sign_options_set_not_after(opts, 2000003600, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_set_template_data(opts, "{oops", &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, csr, csr_len, opts, &chain, &e_), STEPCA_ERR_INVALID_ARGUMENT, "template_data");
  CHECK_STATUS(stepca_sign_options_set_template_data(opts, NULL, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_set_token(opts, "two words", &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, csr, csr_len, opts, &chain, &e_), STEPCA_ERR_INVALID_ARGUMENT, "token");
  CHECK_STATUS(stepca_sign_options_set_token(opts, "a.b.c", &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, csr, csr_len, opts, &chain, &e_), STEPCA_ERR_TRANSPORT, "sign");
  CHECK(chain == NULL);
  stepca_free(csr);

  /* chains, sinks, error objects */
  EXPECT_ERR(stepca_chain_get(NULL, 0, 0, &buf, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain");
  EXPECT_ERR(stepca_chain_pem(NULL, &buf, &len, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain");
  CHECK(stepca_chain_count(NULL) == 0);
  EXPECT_ERR(stepca_token_sink_set(NULL, "t", 1, &e_), STEPCA_ERR_NULL_ARGUMENT, "sink");
  EXPECT_ERR(stepca_token_sink_set_error(NULL, "m", &e_), STEPCA_ERR_NULL_ARGUMENT, "sink");
  CHECK(stepca_error_code(NULL) == STEPCA_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(stepca_error_message(NULL), "") == 0);
  CHECK(stepca_error_http_status(NULL) == 0);
  CHECK(stepca_error_ca_message(NULL) == NULL);
  CHECK(stepca_error_received(NULL) == NULL);
  /* A NULL error argument is allowed: the status alone still comes back. */
  CHECK(stepca_key_load(NULL, 0, NULL, &k2, NULL) == STEPCA_ERR_NULL_ARGUMENT);

  /* Every free function accepts NULL. */
  stepca_free(NULL);
  stepca_key_free(NULL);
  stepca_csr_request_free(NULL);
  stepca_client_builder_free(NULL);
  stepca_client_free(NULL);
  stepca_sign_options_free(NULL);
  stepca_chain_free(NULL);
  stepca_error_free(NULL);

  stepca_client_free(client);
  stepca_client_builder_free(b);
  stepca_sign_options_free(opts);
  stepca_csr_request_free(req);
  stepca_key_free(key);
}

/* Oversized inputs are refused with a clear error, not processed. */
static void test_oversized_inputs(void) {
  size_t big = (size_t)2 << 20;
  uint8_t *junk = malloc(big);
  memset(junk, 'A', big);
  stepca_key *key = NULL;
  EXPECT_ERR(stepca_key_load(junk, big, NULL, &key, &e_), STEPCA_ERR_KEY, "key");
  stepca_client_builder *b = NULL;
  stepca_client *client = NULL;
  stepca_chain *chain = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_client_builder_new("https://127.0.0.1:1", &b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_dangerous_disable_tls_verification(b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_build(b, &client, &e), e, STEPCA_OK);
  EXPECT_ERR(stepca_sign_cert(client, junk, big, NULL, &chain, &e_), STEPCA_ERR_CSR, "csr");
  stepca_client_free(client);
  stepca_client_builder_free(b);
  free(junk);
}

int main(void) {
  tmp = h_tempdir();
  test_versions();
  test_status_strings();
  test_capabilities_all_work();
  test_key_roundtrip_and_csr_formats();
  test_passphrases();
  test_bad_input_table();
  test_oversized_inputs();
  h_rmtree(tmp);
  free(tmp);
  return h_finish();
}
