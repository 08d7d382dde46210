/* The lifecycle through the C API against a real step-ca (run under scripts/with-ca.sh):
 * bootstrap by fingerprint, read-only calls, in-process tokens, renew, rekey, revoke,
 * renewal timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static const char *ca_url, *ca_root;
static char *password;

/* Runs `call`, expecting `want`; keeps the error in `err` for inspection. */
#define FAILS(call, want, err)                                                               \
  do {                                                                                       \
    stepca_status s_ = (call);                                                               \
    CHECK_STATUS(s_, err, want);                                                             \
  } while (0)

static stepca_client *plain_client(void) {
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  OK(stepca_client_builder_new(ca_url, &b, &e_));
  OK(stepca_client_builder_set_root_file(b, ca_root, &e_));
  OK(stepca_client_builder_build(b, &c, &e_));
  stepca_client_builder_free(b);
  return c;
}

/* A client whose tokens are minted in process by the admin provisioner. */
static stepca_client *minting_client(stepca_jwk_provisioner **prov_out) {
  stepca_client *base = plain_client();
  stepca_jwk_provisioner *prov = NULL;
  OK(stepca_jwk_provisioner_fetch(base, "admin", NULL, password, &prov, &e_));
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  OK(stepca_client_builder_new(ca_url, &b, &e_));
  OK(stepca_client_builder_set_root_file(b, ca_root, &e_));
  OK(stepca_client_builder_set_jwk_provisioner(b, prov, &e_));
  OK(stepca_client_builder_build(b, &c, &e_));
  stepca_client_builder_free(b);
  stepca_client_free(base);
  if (prov_out != NULL) {
    *prov_out = prov;
  } else {
    stepca_jwk_provisioner_free(prov);
  }
  return c;
}

static stepca_chain *enroll(stepca_client *c, stepca_key *key, const char *cn, long seconds) {
  size_t len = 0;
  uint8_t *csr = h_csr(key, cn, STEPCA_FORMAT_DER, &len);
  stepca_sign_options *o = NULL;
  OK(stepca_sign_options_new(&o, &e_));
  if (seconds > 0) {
    OK(stepca_sign_options_set_not_after(o, (int64_t)time(NULL) + seconds, &e_));
  }
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(c, csr, len, o, &chain, &e_));
  stepca_sign_options_free(o);
  stepca_free(csr);
  return chain;
}

static void test_bootstrap_and_reads(void) {
  const char *fp = h_env("STEPCA_FINGERPRINT");
  char colons[200] = "";
  for (size_t i = 0; fp[i] != '\0'; i += 2) {
    size_t n = strlen(colons);
    snprintf(colons + n, sizeof colons - n, "%s%c%c", i ? ":" : "", fp[i], fp[i + 1]);
  }
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  OK(stepca_client_builder_new(ca_url, &b, &e_));
  OK(stepca_client_builder_set_root_fingerprint(b, colons, &e_));
  OK(stepca_client_builder_build(b, &c, &e_));
  OK(stepca_client_health(c, &e_));
  uint8_t *pem = NULL;
  size_t len = 0;
  OK(stepca_client_trusted_roots_pem(c, &pem, &len, &e_));
  char *root = h_read_file(ca_root, NULL);
  CHECK(pem != NULL && root != NULL && strcmp((char *)pem, root) == 0);
  stepca_free(pem);
  stepca_client_free(c);
  c = NULL;

  stepca_error *err = NULL;
  OK(stepca_client_builder_set_root_fingerprint(b, "0000000000000000000000000000000000000000000000000000000000000000", &e_));
  FAILS(stepca_client_builder_build(b, &c, &err), STEPCA_ERR_FINGERPRINT, err);
  CHECK(err && strncmp(stepca_error_message(err), "fingerprint:", 12) == 0);
  stepca_error_free(err);
  err = NULL;
  FAILS(stepca_client_builder_set_root_fingerprint(b, "xyz", &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  stepca_error_free(err);
  stepca_client_builder_free(b);

  c = plain_client();
  OK(stepca_client_version(c, &pem, &len, &e_));
  CHECK(pem && strcmp((char *)pem, "N/A") == 0); /* go install builds report N/A */
  stepca_free(pem);
  OK(stepca_client_roots(c, &pem, &len, &e_));
  CHECK(pem && strcmp((char *)pem, root) == 0);
  stepca_free(pem);
  OK(stepca_client_federation(c, &pem, &len, &e_));
  CHECK(pem && strstr((char *)pem, "BEGIN CERTIFICATE") != NULL);
  stepca_free(pem);
  OK(stepca_client_intermediates(c, &pem, &len, &e_));
  CHECK(pem && strstr((char *)pem, "BEGIN CERTIFICATE") != NULL);
  stepca_free(pem);
  OK(stepca_client_provisioners(c, &pem, &len, &e_));
  CHECK(pem && pem[0] == '[' && strstr((char *)pem, "\"name\":\"admin\"") && strstr((char *)pem, "\"name\":\"strict\""));
  stepca_free(pem);
  stepca_client_free(c);
  free(root);
}

static void test_in_process_tokens(void) {
  stepca_client *c = plain_client();
  stepca_jwk_provisioner *prov = NULL;
  stepca_error *err = NULL;
  FAILS(stepca_jwk_provisioner_fetch(c, "admin", NULL, "hunter2-not-it", &prov, &err), STEPCA_ERR_KEY_PASSPHRASE, err);
  CHECK(err && strncmp(stepca_error_message(err), "provisioner_password:", 21) == 0);
  CHECK(err && strstr(stepca_error_message(err), "hunter2") == NULL); /* no secret in messages */
  stepca_error_free(err);
  err = NULL;
  FAILS(stepca_jwk_provisioner_fetch(c, "nobody", NULL, password, &prov, &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  stepca_error_free(err);

  /* Offline, from the ca.json entry. */
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); "
           "print(json.dumps([p for p in c[\"authority\"][\"provisioners\"] if p[\"name\"]==\"admin\"][0]))' %s",
           h_env("STEPCA_CONFIG"));
  int st = 0;
  char *entry = h_run(cmd, &st);
  CHECK(st == 0);
  OK(stepca_jwk_provisioner_load((const uint8_t *)entry, strlen(entry), NULL, password, &prov, &e_));
  OK(stepca_jwk_provisioner_set_lifetime(prov, 600, &e_));
  err = NULL;
  FAILS(stepca_jwk_provisioner_set_lifetime(prov, 5, &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  stepca_error_free(err);

  /* A token minted directly, used per call. */
  char aud[300];
  snprintf(aud, sizeof aud, "%s/1.0/sign", ca_url);
  const char *sans[] = {"c-mint.example.com"};
  uint8_t *tok = NULL;
  size_t tok_len = 0;
  OK(stepca_jwk_provisioner_sign_token(prov, "c-mint.example.com", sans, 1, aud, &tok, &tok_len, &e_));
  CHECK(tok != NULL && tok_len > 100 && strchr((char *)tok, '.') != NULL);
  stepca_key *key = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e_));
  size_t csr_len = 0;
  uint8_t *csr = h_csr(key, "c-mint.example.com", STEPCA_FORMAT_PEM, &csr_len);
  stepca_sign_options *o = NULL;
  OK(stepca_sign_options_new(&o, &e_));
  OK(stepca_sign_options_set_token(o, (char *)tok, &e_));
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(c, csr, csr_len, o, &chain, &e_));
  stepca_chain_free(chain);
  chain = NULL;
  /* The provisioner as a per-call provider: a fresh token each time. */
  OK(stepca_sign_options_set_token(o, NULL, &e_));
  OK(stepca_sign_options_set_jwk_provisioner(o, prov, &e_));
  for (int i = 0; i < 2; i++) {
    OK(stepca_sign_cert(c, csr, csr_len, o, &chain, &e_));
    stepca_chain_free(chain);
    chain = NULL;
  }
  err = NULL;
  FAILS(stepca_jwk_provisioner_set_lifetime(prov, 60, &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  stepca_error_free(err);
  stepca_sign_options_free(o);
  stepca_free(csr);
  stepca_free(tok);
  stepca_key_free(key);
  stepca_jwk_provisioner_free(prov);
  free(entry);
  stepca_client_free(c);
}

static void test_renew_rekey_revoke(void) {
  stepca_jwk_provisioner *prov = NULL;
  stepca_client *c = minting_client(&prov);
  stepca_key *key = NULL;
  OK(stepca_key_generate(STEPCA_KEY_ED25519, &key, &e_));
  stepca_chain *chain = enroll(c, key, "c-life.example.com", 3600);
  char *serial = h_serial_of(chain);

  /* Save and reload the chain as a device would. */
  uint8_t *pem = NULL;
  size_t pem_len = 0;
  OK(stepca_chain_pem(chain, &pem, &pem_len, &e_));
  stepca_chain *loaded = NULL;
  OK(stepca_chain_load(pem, pem_len, &loaded, &e_));
  char *serial2 = h_serial_of(loaded);
  CHECK(strcmp(serial, serial2) == 0);
  free(serial2);
  stepca_free(pem);
  int64_t nb = 0, na = 0, due = 0;
  OK(stepca_chain_validity(loaded, &nb, &na, &e_));
  CHECK(na - nb >= 3600 && na - nb <= 3661);
  OK(stepca_chain_renew_after(loaded, &due, &e_));
  CHECK(due <= na - (na - nb) / 3 && due > na - (na - nb) / 3 - (na - nb) / 20);

  const stepca_renew_auth auths[] = {STEPCA_RENEW_MTLS, STEPCA_RENEW_TOKEN, STEPCA_RENEW_AUTO};
  for (size_t i = 0; i < 3; i++) {
    stepca_chain *renewed = NULL;
    OK(stepca_renew(c, loaded, key, auths[i], &renewed, &e_));
    char *s = h_serial_of(renewed);
    CHECK(renewed != NULL && strcmp(s, serial) != 0);
    free(s);
    int64_t rnb = 0, rna = 0, rdue = 0;
    OK(stepca_chain_validity(renewed, &rnb, &rna, &e_));
    OK(stepca_chain_renew_after(renewed, &rdue, &e_));
    CHECK(rdue > (int64_t)time(NULL) + 1800); /* not due again at once */
    stepca_chain_free(renewed);
  }
  stepca_error *err = NULL;
  stepca_chain *tmp = NULL;
  FAILS(stepca_renew(c, loaded, key, 9, &tmp, &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  stepca_error_free(err);

  /* Rekey to a new key. */
  stepca_key *key2 = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P384, &key2, &e_));
  stepca_csr_request *req = NULL;
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", "c-life.example.com", &e_));
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  OK(stepca_create_csr(key2, req, STEPCA_FORMAT_PEM, &csr, &csr_len, &e_));
  stepca_chain *rekeyed = NULL;
  OK(stepca_rekey(c, loaded, key, csr, csr_len, &rekeyed, &e_));
  err = NULL;
  FAILS(stepca_renew(c, rekeyed, key, STEPCA_RENEW_MTLS, &tmp, &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  CHECK(err && strncmp(stepca_error_message(err), "key:", 4) == 0);
  stepca_error_free(err);

  /* Revoke by serial (token minted by the provisioner), then renewal is refused. */
  stepca_revoke_options *ro = NULL;
  OK(stepca_revoke_options_new(&ro, &e_));
  OK(stepca_revoke_options_set_reason(ro, 1, "key compromise", &e_));
  OK(stepca_revoke(c, serial, ro, &e_));
  err = NULL;
  FAILS(stepca_renew(c, loaded, key, STEPCA_RENEW_MTLS, &tmp, &err), STEPCA_ERR_CA_REJECTED, err);
  CHECK(stepca_error_http_status(err) == 401);
  stepca_error_free(err);
  err = NULL;
  FAILS(stepca_revoke_options_set_reason(ro, 11, NULL, &err), STEPCA_ERR_INVALID_ARGUMENT, err);
  stepca_error_free(err);

  /* Revoke over mutual TLS with the rekeyed certificate and its key. */
  OK(stepca_revoke_with_certificate(c, rekeyed, key2, NULL, &e_));
  err = NULL;
  FAILS(stepca_renew(c, rekeyed, key2, STEPCA_RENEW_TOKEN, &tmp, &err), STEPCA_ERR_CA_REJECTED, err);
  CHECK(stepca_error_http_status(err) == 401);
  stepca_error_free(err);

  /* A revoke token minted directly, on a client without a provider. */
  stepca_chain *third = enroll(c, key, "c-life3.example.com", 3600);
  char *serial3 = h_serial_of(third);
  char aud[300];
  snprintf(aud, sizeof aud, "%s/1.0/revoke", ca_url);
  uint8_t *rt = NULL;
  size_t rt_len = 0;
  OK(stepca_jwk_provisioner_revoke_token(prov, serial3, aud, &rt, &rt_len, &e_));
  stepca_client *plain = plain_client();
  OK(stepca_revoke_options_set_token(ro, (char *)rt, &e_));
  OK(stepca_revoke(plain, serial3, ro, &e_));
  err = NULL;
  FAILS(stepca_revoke(plain, serial3, NULL, &err), STEPCA_ERR_NO_TOKEN, err);
  stepca_error_free(err);

  stepca_client_free(plain);
  stepca_free(rt);
  free(serial3);
  stepca_chain_free(third);
  stepca_revoke_options_free(ro);
  stepca_chain_free(rekeyed);
  stepca_free(csr);
  stepca_csr_request_free(req);
  stepca_key_free(key2);
  stepca_chain_free(loaded);
  stepca_chain_free(chain);
  free(serial);
  stepca_key_free(key);
  stepca_jwk_provisioner_free(prov);
  stepca_client_free(c);
}

int main(void) {
  ca_url = h_env("STEPCA_URL");
  ca_root = h_env("STEPCA_ROOT");
  password = h_read_file(h_env("STEPCA_PASSWORD_FILE"), NULL);
  password[strcspn(password, "\r\n")] = '\0';
  test_bootstrap_and_reads();
  test_in_process_tokens();
  test_renew_rekey_revoke();
  free(password);
  return h_finish();
}
