/* Keys that never reach libstepca: CSRs and renewals signed by an OpenSSL-backed sign
 * callback (EVP_DigestSign), enrolled at a real step-ca (run under scripts/with-ca.sh). */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static char *tmp;

struct held_key {
  EVP_PKEY *pkey;
  const EVP_MD *md; /* NULL for Ed25519 */
  int calls, fail, raw_ecdsa;
};

/* The sign callback: what a secure element's SDK would do. */
static int openssl_sign(void *ud, const uint8_t *data, size_t len, stepca_signature_sink *sink) {
  struct held_key *k = ud;
  k->calls++;
  if (k->fail) {
    stepca_signature_sink_set_error(sink, "secure element busy", NULL);
    return 4;
  }
  size_t sig_len = 0;
  unsigned char *sig = h_evp_sign(k->pkey, k->md, 0, data, len, &sig_len);
  int ok = sig != NULL;
  if (ok && k->raw_ecdsa) {
    /* A common mistake: r||s instead of DER. libstepca must catch it. */
    memmove(sig, sig + 4, 32);
    sig_len = 64;
  }
  int rc = ok && stepca_signature_sink_set(sink, sig, sig_len, NULL) == STEPCA_OK ? 0 : 1;
  free(sig);
  return rc;
}

static stepca_external_key *external(struct held_key *k, stepca_sig_alg alg) {
  unsigned char *spki = NULL;
  int n = i2d_PUBKEY(k->pkey, &spki);
  stepca_external_key *ek = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_external_key_new(spki, (size_t)n, alg, openssl_sign, k, &ek, &e), e, STEPCA_OK);
  stepca_error_free(e);
  OPENSSL_free(spki);
  return ek;
}

static void test_each_algorithm_enrolls_and_renews(void) {
  struct {
    const char *type, *param;
    const EVP_MD *md;
    stepca_sig_alg alg;
  } cases[] = {{"EC", "P-256", EVP_sha256(), STEPCA_SIG_ECDSA_P256_SHA256},
               {"EC", "P-384", EVP_sha384(), STEPCA_SIG_ECDSA_P384_SHA384},
               {"RSA", NULL, EVP_sha256(), STEPCA_SIG_RSA_PKCS1_SHA256},
               {"ED25519", NULL, NULL, STEPCA_SIG_ED25519}};
  stepca_client *client = h_minting_client();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct held_key k = {h_pkey_generate(cases[i].type, cases[i].param), cases[i].md, 0, 0, 0};
    stepca_external_key *ek = external(&k, cases[i].alg);
    char cn[64];
    snprintf(cn, sizeof cn, "held-%zu.example.com", i);
    stepca_error *e = NULL;
    size_t len = 0;
    uint8_t *csr = h_csr_external(ek, cn, STEPCA_FORMAT_PEM, &len);
    CHECK(k.calls == 1);
    /* openssl checks the CSR signed by the held key. */
    h_check_openssl_csr(tmp, csr, len);
    stepca_chain *chain = NULL, *renewed = NULL;
    CHECK_STATUS(stepca_sign_cert(client, csr, len, NULL, &chain, &e), e, STEPCA_OK);
    CHECK_STATUS(stepca_renew_external(client, chain, ek, &renewed, &e), e, STEPCA_OK);
    CHECK(k.calls == 2); /* the renew token, signed by the held key */
    CHECK(renewed != NULL && stepca_chain_count(renewed) == 2);
    stepca_error_free(e);
    stepca_chain_free(renewed);
    stepca_chain_free(chain);
    stepca_free(csr);
    stepca_external_key_free(ek);
    EVP_PKEY_free(k.pkey);
  }
  stepca_client_free(client);
}

static void test_failing_and_wrong_signers(void) {
  struct held_key k = {h_pkey_generate("EC", "P-256"), EVP_sha256(), 0, 1, 0};
  stepca_external_key *ek = external(&k, STEPCA_SIG_ECDSA_P256_SHA256);
  stepca_csr_request *req = NULL;
  stepca_error *e = NULL;
  uint8_t *csr = NULL;
  size_t len = 0;
  CHECK_STATUS(stepca_csr_request_new(&req, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_create_csr_external(ek, req, STEPCA_FORMAT_DER, &csr, &len, &e), e, STEPCA_ERR_SIGNER);
  CHECK(e && strstr(stepca_error_message(e), "callback returned 4: secure element busy"));
  stepca_error_free(e);
  e = NULL;
  k.fail = 0;
  k.raw_ecdsa = 1;
  CHECK_STATUS(stepca_create_csr_external(ek, req, STEPCA_FORMAT_DER, &csr, &len, &e), e, STEPCA_ERR_SIGNER);
  CHECK(e && strstr(stepca_error_message(e), "does not verify"));
  CHECK(csr == NULL);
  stepca_error_free(e);
  e = NULL;
  /* An algorithm that does not fit the public key is refused when the key is made. */
  unsigned char *spki = NULL;
  int n = i2d_PUBKEY(k.pkey, &spki);
  stepca_external_key *bad = NULL;
  CHECK_STATUS(stepca_external_key_new(spki, (size_t)n, STEPCA_SIG_ED25519, openssl_sign, &k, &bad, &e), e,
               STEPCA_ERR_INVALID_ARGUMENT);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_external_key_new(spki, (size_t)n, STEPCA_SIG_ECDSA_P256_SHA256, NULL, &k, &bad, &e), e,
               STEPCA_ERR_NULL_ARGUMENT);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_external_key_new((const uint8_t *)"junk", 4, STEPCA_SIG_ECDSA_P256_SHA256, openssl_sign, &k, &bad, &e),
               e, STEPCA_ERR_INVALID_ARGUMENT);
  stepca_error_free(e);
  OPENSSL_free(spki);
  stepca_csr_request_free(req);
  stepca_external_key_free(ek);
  stepca_external_key_free(NULL);
  EVP_PKEY_free(k.pkey);
}

/* stepca_enroll_external: signed once through the key, exchanged in the same call. */
static void test_enroll_external_in_one_call(void) {
  int asked = 0;
  stepca_client_builder *b = NULL;
  stepca_client *client = NULL;
  OK(stepca_client_builder_new(h_env("STEPCA_URL"), &b, &e_));
  OK(stepca_client_builder_set_root_file(b, h_env("STEPCA_ROOT"), &e_));
  OK(stepca_client_builder_set_provisioner(b, "admin", &e_));
  OK(stepca_client_builder_set_token_provider(b, h_minting_provider, &asked, &e_));
  OK(stepca_client_builder_build(b, &client, &e_));
  stepca_client_builder_free(b);

  struct held_key k = {h_pkey_generate("EC", "P-256"), EVP_sha256(), 0, 0, 0};
  stepca_external_key *ek = external(&k, STEPCA_SIG_ECDSA_P256_SHA256);
  stepca_csr_request *req = NULL;
  stepca_chain *chain = NULL;
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", "held-enroll.example.com", &e_));
  OK(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "held-enroll.example.com", &e_));
  OK(stepca_enroll_external(client, ek, req, NULL, &chain, &e_));
  CHECK(k.calls == 1 && asked == 1); /* one CSR signature, one token */
  unsigned char *spki = NULL;
  int n = i2d_PUBKEY(k.pkey, &spki);
  CHECK(chain != NULL && h_leaf_has_spki(chain, spki, (size_t)n));
  X509 *leaf = h_leaf_x509(chain);
  X509_free(leaf);
  OPENSSL_free(spki);
  stepca_chain_free(chain);
  chain = NULL;

  /* A signer that fails, or signs in the wrong format, fails the call before a token is
   * asked for. */
  k.fail = 1;
  NAMES(stepca_enroll_external(client, ek, req, NULL, &chain, &e_), STEPCA_ERR_SIGNER, "signer");
  k.fail = 0;
  k.raw_ecdsa = 1;
  NAMES(stepca_enroll_external(client, ek, req, NULL, &chain, &e_), STEPCA_ERR_SIGNER, "signer");
  CHECK(asked == 1 && chain == NULL);
  stepca_csr_request_free(req);
  stepca_external_key_free(ek);
  EVP_PKEY_free(k.pkey);
  stepca_client_free(client);
}

int main(void) {
  tmp = h_tempdir();
  test_enroll_external_in_one_call();
  test_failing_and_wrong_signers();
  test_each_algorithm_enrolls_and_renews();
  h_rmtree(tmp);
  free(tmp);
  return h_finish();
}
