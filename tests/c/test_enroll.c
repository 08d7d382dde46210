/* Enrollment through the C API against a real step-ca (run under scripts/with-ca.sh).
 * Tokens come from the step CLI; certificates are checked with openssl. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static char *tmp;
static const char *ca_url, *ca_root;

static stepca_client *new_client(const char *root, stepca_token_provider_fn provider, void *ud) {
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_client_builder_new(ca_url, &b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_root_file(b, root, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_provisioner(b, "admin", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_timeouts(b, 5000, 20000, &e), e, STEPCA_OK);
  if (provider != NULL) {
    CHECK_STATUS(stepca_client_builder_set_token_provider(b, provider, ud, &e), e, STEPCA_OK);
  }
  CHECK_STATUS(stepca_client_builder_build(b, &c, &e), e, STEPCA_OK);
  stepca_error_free(e);
  stepca_client_builder_free(b);
  return c;
}

/* Loads a key that openssl generates with `genargs` (keys come from an independent tool). */
static stepca_key *openssl_key(const char *genargs) {
  char cmd[1024], path[512];
  snprintf(path, sizeof path, "%s/k.pem", tmp);
  snprintf(cmd, sizeof cmd, "openssl genpkey %s -out %s 2>/dev/null", genargs, path);
  int st = 0;
  free(h_run(cmd, &st));
  CHECK(st == 0);
  size_t len = 0;
  char *pem = h_read_file(path, &len);
  stepca_key *key = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_key_load((const uint8_t *)pem, len, NULL, &key, &e), e, STEPCA_OK);
  stepca_error_free(e);
  free(pem);
  return key;
}

struct san {
  stepca_san_type type;
  const char *value;
};

static uint8_t *make_csr(stepca_key *key, const char *cn, const struct san *sans, size_t n,
                         stepca_format fmt, size_t *len) {
  stepca_csr_request *req = NULL;
  stepca_error *e = NULL;
  uint8_t *csr = NULL;
  CHECK_STATUS(stepca_csr_request_new(&req, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_csr_request_add_subject(req, "CN", cn, &e), e, STEPCA_OK);
  for (size_t i = 0; i < n; i++) {
    CHECK_STATUS(stepca_csr_request_add_san(req, sans[i].type, sans[i].value, &e), e, STEPCA_OK);
  }
  CHECK_STATUS(stepca_csr_request_add_ext_key_usage(req, "serverAuth", &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_create_csr(key, req, fmt, &csr, len, &e), e, STEPCA_OK);
  stepca_error_free(e);
  stepca_csr_request_free(req);
  return csr;
}

/* Verifies a PEM chain with openssl against the CA root; returns `openssl x509 -text`. */
static char *verify_chain(stepca_chain *chain) {
  uint8_t *pem = NULL;
  size_t len = 0;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_chain_pem(chain, &pem, &len, &e), e, STEPCA_OK);
  stepca_error_free(e);
  CHECK(pem != NULL && strlen((char *)pem) == len);
  char path[512], cmd[2048];
  snprintf(path, sizeof path, "%s/chain.pem", tmp);
  h_write_file(path, pem, len);
  stepca_free(pem);
  char *out = NULL;
  int verified = h_openssl_verify(path, &out);
  CHECK_MSG(verified, out);
  free(out);
  snprintf(cmd, sizeof cmd, "openssl x509 -in %s -noout -text 2>&1", path);
  int st = 0;
  return h_run(cmd, &st);
}

static void test_each_key_type_through_the_callback(void) {
  const char *gens[] = {"-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
                        "-algorithm RSA -pkeyopt rsa_keygen_bits:3072",
                        "-algorithm RSA -pkeyopt rsa_keygen_bits:4096",
                        "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
                        "-algorithm EC -pkeyopt ec_paramgen_curve:P-384", "-algorithm ED25519"};
  int calls = 0;
  stepca_client *client = new_client(ca_root, h_minting_provider, &calls);
  for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
    stepca_key *key = openssl_key(gens[i]);
    char cn[64];
    snprintf(cn, sizeof cn, "c-type-%zu.example.com", i);
    struct san sans[] = {{STEPCA_SAN_DNS, cn}};
    size_t csr_len = 0;
    /* Alternate PEM and DER CSRs: both are accepted. */
    uint8_t *csr = make_csr(key, cn, sans, 1, i % 2 ? STEPCA_FORMAT_DER : STEPCA_FORMAT_PEM, &csr_len);
    stepca_chain *chain = NULL;
    stepca_error *e = NULL;
    CHECK_STATUS(stepca_sign_cert(client, csr, csr_len, NULL, &chain, &e), e, STEPCA_OK);
    stepca_error_free(e);
    if (chain != NULL) {
      CHECK(stepca_chain_count(chain) == 2);
      char *text = verify_chain(chain);
      char want[128];
      snprintf(want, sizeof want, "Subject: CN = %s", cn);
      CHECK_MSG(strstr(text, want) != NULL, text);
      free(text);
      /* The leaf in DER is what openssl reads back. */
      uint8_t *der = NULL;
      size_t der_len = 0;
      e = NULL;
      CHECK_STATUS(stepca_chain_get(chain, 0, STEPCA_FORMAT_DER, &der, &der_len, &e), e, STEPCA_OK);
      CHECK(der_len > 100 && der[0] == 0x30);
      stepca_free(der);
      CHECK_STATUS(stepca_chain_get(chain, 2, STEPCA_FORMAT_DER, &der, &der_len, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
      stepca_error_free(e);
    }
    stepca_chain_free(chain);
    stepca_free(csr);
    stepca_key_free(key);
  }
  CHECK(calls == 6);
  stepca_client_free(client);
}

/* Records the claims the provider saw, then mints. */
struct seen {
  char subject[256], audience[256], provisioner[64];
  size_t sans, dns, ips, emails, uris;
  char ip1[64];
};

static int recording_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  struct seen *s = ud;
  snprintf(s->subject, sizeof s->subject, "%s", c->subject);
  snprintf(s->audience, sizeof s->audience, "%s", c->audience);
  snprintf(s->provisioner, sizeof s->provisioner, "%s", c->provisioner ? c->provisioner : "(null)");
  s->sans = c->sans_len;
  s->dns = c->dns_len;
  s->ips = c->ips_len;
  s->emails = c->emails_len;
  s->uris = c->uris_len;
  if (c->ips_len > 1) {
    snprintf(s->ip1, sizeof s->ip1, "%s", c->ips[1]);
  }
  return h_minting_provider(NULL, c, sink);
}

static void test_all_san_types_and_claims(void) {
  struct seen seen;
  memset(&seen, 0, sizeof seen);
  stepca_client *client = new_client(ca_root, recording_provider, &seen);
  stepca_key *key = openssl_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  struct san sans[] = {{STEPCA_SAN_DNS, "c-multi.example.com"}, {STEPCA_SAN_IP, "198.51.100.9"},
                       {STEPCA_SAN_IP, "2001:DB8::9"},           {STEPCA_SAN_EMAIL, "c-multi@example.com"},
                       {STEPCA_SAN_URI, "spiffe://example.com/c-multi"}};
  size_t len = 0;
  uint8_t *csr = make_csr(key, "c-multi.example.com", sans, 5, STEPCA_FORMAT_PEM, &len);
  stepca_chain *chain = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_sign_cert(client, csr, len, NULL, &chain, &e), e, STEPCA_OK);
  stepca_error_free(e);
  CHECK(strcmp(seen.subject, "c-multi.example.com") == 0);
  char aud[512];
  snprintf(aud, sizeof aud, "%s/1.0/sign", ca_url);
  CHECK_MSG(strcmp(seen.audience, aud) == 0, seen.audience);
  CHECK(strcmp(seen.provisioner, "admin") == 0);
  CHECK(seen.sans == 5 && seen.dns == 1 && seen.ips == 2 && seen.emails == 1 && seen.uris == 1);
  CHECK_MSG(strcmp(seen.ip1, "2001:db8::9") == 0, seen.ip1); /* canonical form, as step compares */
  if (chain != NULL) {
    char *text = verify_chain(chain);
    const char *want[] = {"DNS:c-multi.example.com", "IP Address:198.51.100.9", "IP Address:2001:DB8:0:0:0:0:0:9",
                          "email:c-multi@example.com", "URI:spiffe://example.com/c-multi"};
    for (size_t i = 0; i < 5; i++) {
      CHECK_MSG(strstr(text, want[i]) != NULL, want[i]);
    }
    free(text);
  }
  stepca_chain_free(chain);
  stepca_free(csr);
  stepca_key_free(key);
  stepca_client_free(client);
}

static int must_not_be_called(void *ud, const stepca_token_claims *c, stepca_token_sink *s) {
  (void)c;
  (void)s;
  (*(int *)ud)++;
  return 9;
}

static void test_rejections(void) {
  int calls = 0;
  stepca_client *client = new_client(ca_root, must_not_be_called, &calls);
  stepca_key *key = openssl_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  stepca_sign_options *opts = NULL;
  stepca_chain *chain = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_sign_options_new(&opts, &e), e, STEPCA_OK);

  /* 403: the CSR's SANs differ from the token's; step-ca's message comes through. */
  const char *good[] = {"c-good.example.com"};
  char *tok = h_mint_token("c-good.example.com", good, 1);
  CHECK(tok != NULL);
  struct san evil[] = {{STEPCA_SAN_DNS, "c-evil.example.com"}};
  size_t len = 0;
  uint8_t *csr = make_csr(key, "c-good.example.com", evil, 1, STEPCA_FORMAT_PEM, &len);
  CHECK_STATUS(stepca_sign_options_set_token(opts, tok, &e), e, STEPCA_OK);
  stepca_status st = stepca_sign_cert(client, csr, len, opts, &chain, &e);
  CHECK_STATUS(st, e, STEPCA_ERR_CA_REJECTED);
  CHECK(stepca_error_http_status(e) == 403);
  CHECK(stepca_error_ca_message(e) != NULL &&
        strstr(stepca_error_ca_message(e), "does not contain the valid DNS names") != NULL);
  CHECK(strstr(stepca_error_message(e), tok) == NULL); /* no secret in messages */
  CHECK(chain == NULL);
  stepca_error_free(e);
  e = NULL;
  free(tok);
  stepca_free(csr);

  /* 401: a token used twice. */
  const char *reuse[] = {"c-reuse.example.com"};
  tok = h_mint_token("c-reuse.example.com", reuse, 1);
  struct san rs[] = {{STEPCA_SAN_DNS, "c-reuse.example.com"}};
  csr = make_csr(key, "c-reuse.example.com", rs, 1, STEPCA_FORMAT_PEM, &len);
  CHECK_STATUS(stepca_sign_options_set_token(opts, tok, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_cert(client, csr, len, opts, &chain, &e), e, STEPCA_OK);
  stepca_chain_free(chain);
  chain = NULL;
  st = stepca_sign_cert(client, csr, len, opts, &chain, &e);
  CHECK_STATUS(st, e, STEPCA_ERR_CA_REJECTED);
  CHECK(stepca_error_http_status(e) == 401);
  stepca_error_free(e);
  e = NULL;
  free(tok);
  stepca_free(csr);

  /* 403: validity beyond the provisioner's 90-day maximum. */
  const char *lng[] = {"c-long.example.com"};
  tok = h_mint_token("c-long.example.com", lng, 1);
  struct san ls[] = {{STEPCA_SAN_DNS, "c-long.example.com"}};
  csr = make_csr(key, "c-long.example.com", ls, 1, STEPCA_FORMAT_PEM, &len);
  CHECK_STATUS(stepca_sign_options_set_token(opts, tok, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_set_not_after(opts, (int64_t)time(NULL) + 200 * 86400, &e), e, STEPCA_OK);
  st = stepca_sign_cert(client, csr, len, opts, &chain, &e);
  CHECK_STATUS(st, e, STEPCA_ERR_CA_REJECTED);
  CHECK(stepca_error_http_status(e) == 403);
  CHECK(stepca_error_ca_message(e) && strstr(stepca_error_ca_message(e), "maximum certificate duration"));
  stepca_error_free(e);
  e = NULL;
  /* The same token, with a validity inside the bounds, still works: a 403 on validity
   * burns it at step-ca (pinned here: step-ca consumes the token first). */
  CHECK_STATUS(stepca_sign_options_set_not_after(opts, (int64_t)time(NULL) + 3600, &e), e, STEPCA_OK);
  st = stepca_sign_cert(client, csr, len, opts, &chain, &e);
  CHECK_STATUS(st, e, STEPCA_ERR_CA_REJECTED);
  CHECK(stepca_error_http_status(e) == 401);
  stepca_error_free(e);
  free(tok);
  stepca_free(csr);

  CHECK(calls == 0); /* a per-call token overrides the provider */
  stepca_sign_options_free(opts);
  stepca_key_free(key);
  stepca_client_free(client);
}

static int failing_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  (void)ud;
  (void)c;
  stepca_token_sink_set_error(sink, "HSM offline", NULL);
  return 7;
}

static int silent_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  (void)ud;
  (void)c;
  (void)sink;
  return 0;
}

static int empty_token_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  (void)ud;
  (void)c;
  stepca_error *e = NULL;
  /* An empty token is refused by the sink itself. */
  int rc = stepca_token_sink_set(sink, "", 0, &e) == STEPCA_ERR_INVALID_ARGUMENT ? 0 : 9;
  stepca_error_free(e);
  return rc;
}

static int huge_token_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  (void)ud;
  (void)c;
  size_t n = 200 * 1024;
  char *big = malloc(n);
  memset(big, 'A', n);
  stepca_status st = stepca_token_sink_set(sink, big, n, NULL);
  free(big);
  return st == STEPCA_OK ? 0 : 1;
}

/* Calls back into the library from inside the callback, then mints. */
static int reentrant_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  stepca_key *k = NULL;
  stepca_error *e = NULL;
  if (stepca_key_generate(STEPCA_KEY_EC_P256, &k, &e) != STEPCA_OK) {
    stepca_error_free(e);
    return 5;
  }
  stepca_key_free(k);
  return h_minting_provider(ud, c, sink);
}

static void test_callbacks(void) {
  stepca_key *key = openssl_key("-algorithm ED25519");
  struct san s[] = {{STEPCA_SAN_DNS, "c-cb.example.com"}};
  size_t len = 0;
  uint8_t *csr = make_csr(key, "c-cb.example.com", s, 1, STEPCA_FORMAT_DER, &len);
  stepca_chain *chain = NULL;
  stepca_error *e = NULL;

  stepca_client *c1 = new_client(ca_root, failing_provider, NULL);
  CHECK_STATUS(stepca_sign_cert(c1, csr, len, NULL, &chain, &e), e, STEPCA_ERR_TOKEN_PROVIDER);
  CHECK(e && strstr(stepca_error_message(e), "callback returned 7: HSM offline") != NULL);
  stepca_error_free(e);
  e = NULL;
  /* A per-call provider overrides the client's. */
  int per_call = 0;
  stepca_sign_options *o = NULL;
  CHECK_STATUS(stepca_sign_options_new(&o, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_options_set_token_provider(o, h_minting_provider, &per_call, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_cert(c1, csr, len, o, &chain, &e), e, STEPCA_OK);
  CHECK(per_call == 1 && chain != NULL);
  stepca_chain_free(chain);
  chain = NULL;
  /* Clearing it falls back to the client's provider. */
  CHECK_STATUS(stepca_sign_options_set_token_provider(o, NULL, NULL, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_sign_cert(c1, csr, len, o, &chain, &e), e, STEPCA_ERR_TOKEN_PROVIDER);
  stepca_error_free(e);
  e = NULL;
  stepca_sign_options_free(o);
  stepca_client_free(c1);

  stepca_client *c2 = new_client(ca_root, silent_provider, NULL);
  CHECK_STATUS(stepca_sign_cert(c2, csr, len, NULL, &chain, &e), e, STEPCA_ERR_TOKEN_PROVIDER);
  CHECK(e && strstr(stepca_error_message(e), "without setting a token") != NULL);
  stepca_error_free(e);
  e = NULL;
  stepca_client_free(c2);

  stepca_client *c3 = new_client(ca_root, NULL, NULL);
  CHECK_STATUS(stepca_sign_cert(c3, csr, len, NULL, &chain, &e), e, STEPCA_ERR_NO_TOKEN);
  stepca_error_free(e);
  e = NULL;
  stepca_client_free(c3);

  stepca_client *c5 = new_client(ca_root, empty_token_provider, NULL);
  CHECK_STATUS(stepca_sign_cert(c5, csr, len, NULL, &chain, &e), e, STEPCA_ERR_TOKEN_PROVIDER);
  stepca_error_free(e);
  e = NULL;
  stepca_client_free(c5);
  stepca_client *c6 = new_client(ca_root, huge_token_provider, NULL);
  CHECK_STATUS(stepca_sign_cert(c6, csr, len, NULL, &chain, &e), e, STEPCA_ERR_TOKEN_PROVIDER);
  CHECK(e && strstr(stepca_error_message(e), "204800 bytes") != NULL);
  stepca_error_free(e);
  e = NULL;
  stepca_client_free(c6);

  int calls = 0;
  stepca_client *c4 = new_client(ca_root, reentrant_provider, &calls);
  CHECK_STATUS(stepca_sign_cert(c4, csr, len, NULL, &chain, &e), e, STEPCA_OK);
  CHECK(calls == 1);
  stepca_error_free(e);
  stepca_chain_free(chain);
  stepca_client_free(c4);
  stepca_free(csr);
  stepca_key_free(key);
}

static void test_wrong_root_and_http(void) {
  char cmd[2048], root[512];
  snprintf(root, sizeof root, "%s/other-root.pem", tmp);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/other.key "
           "-subj /CN=Other -days 1 -out %s 2>/dev/null", tmp, root);
  int st = 0;
  free(h_run(cmd, &st));
  CHECK(st == 0);
  int calls = 0;
  stepca_client *client = new_client(root, h_minting_provider, &calls);
  stepca_key *key = openssl_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  struct san s[] = {{STEPCA_SAN_DNS, "c-root.example.com"}};
  size_t len = 0;
  uint8_t *csr = make_csr(key, "c-root.example.com", s, 1, STEPCA_FORMAT_PEM, &len);
  stepca_chain *chain = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_sign_cert(client, csr, len, NULL, &chain, &e), e, STEPCA_ERR_TLS);
  CHECK(calls == 1);
  stepca_error_free(e);
  e = NULL;
  stepca_client_free(client);

  char http_url[256];
  snprintf(http_url, sizeof http_url, "http://%s", ca_url + strlen("https://"));
  stepca_client_builder *b = NULL;
  stepca_client *hc = NULL;
  CHECK_STATUS(stepca_client_builder_new(http_url, &b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_build(b, &hc, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
  CHECK(e && strncmp(stepca_error_message(e), "ca_url:", 7) == 0);
  CHECK(hc == NULL);
  stepca_error_free(e);
  stepca_client_builder_free(b);
  stepca_free(csr);
  stepca_key_free(key);
}

/* One client shared by several threads (the client is documented as thread-safe). */
#define THREADS 4
#define PER_THREAD 3
struct worker {
  stepca_client *client;
  stepca_key *key;
  int index, ok;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    char cn[64];
    snprintf(cn, sizeof cn, "c-thread-%d-%d.example.com", w->index, i);
    struct san s[] = {{STEPCA_SAN_DNS, cn}};
    size_t len = 0;
    uint8_t *csr = make_csr(w->key, cn, s, 1, STEPCA_FORMAT_DER, &len);
    stepca_chain *chain = NULL;
    stepca_error *e = NULL;
    if (stepca_sign_cert(w->client, csr, len, NULL, &chain, &e) == STEPCA_OK && stepca_chain_count(chain) == 2) {
      w->ok++;
    } else {
      fprintf(stderr, "thread %d: %s\n", w->index, stepca_error_message(e));
    }
    stepca_error_free(e);
    stepca_chain_free(chain);
    stepca_free(csr);
  }
  return NULL;
}

static void test_threads_share_a_client(void) {
  stepca_client *client = new_client(ca_root, h_minting_provider, NULL);
  stepca_key *key = openssl_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  pthread_t th[THREADS];
  struct worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker){client, key, i, 0};
    CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
  }
  int total = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    total += w[i].ok;
  }
  CHECK(total == THREADS * PER_THREAD);
  stepca_key_free(key);
  stepca_client_free(client);
}

/* stepca_enroll: the CSR built and exchanged in one call. */
static void test_enroll_in_one_call(void) {
  const char *gens[] = {"-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
                        "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", "-algorithm ED25519"};
  int calls = 0;
  stepca_client *client = new_client(ca_root, h_minting_provider, &calls);
  for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
    stepca_key *key = openssl_key(gens[i]);
    char cn[64], cmd[1024];
    snprintf(cn, sizeof cn, "c-enroll-%zu.example.com", i);
    stepca_csr_request *req = NULL;
    stepca_chain *chain = NULL;
    stepca_error *e = NULL;
    OK(stepca_csr_request_new(&req, &e_));
    OK(stepca_csr_request_add_subject(req, "CN", cn, &e_));
    OK(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, cn, &e_));
    OK(stepca_csr_request_add_ext_key_usage(req, "serverAuth", &e_));
    CHECK_STATUS(stepca_enroll(client, key, req, NULL, &chain, &e), e, STEPCA_OK);
    CHECK(calls == (int)i + 1); /* the client's provider, asked once */
    CHECK(chain != NULL && stepca_chain_count(chain) == 2);
    /* The leaf carries the key openssl made (its public key as openssl writes it). */
    snprintf(cmd, sizeof cmd, "openssl pkey -in %s/k.pem -pubout -outform DER -out %s/spki.der", tmp, tmp);
    int st = 0;
    free(h_run(cmd, &st));
    CHECK(st == 0);
    snprintf(cmd, sizeof cmd, "%s/spki.der", tmp);
    size_t spki_len = 0;
    char *spki = h_read_file(cmd, &spki_len);
    CHECK(spki != NULL && h_leaf_has_spki(chain, (const uint8_t *)spki, spki_len));
    free(spki);
    /* openssl verifies the chain up to the root and reads the SAN requested. */
    char *text = verify_chain(chain);
    char want[96];
    snprintf(want, sizeof want, "DNS:%s", cn);
    CHECK_MSG(text != NULL && strstr(text, want) != NULL, text);
    free(text);
    stepca_error_free(e);
    stepca_chain_free(chain);
    stepca_csr_request_free(req);
    stepca_key_free(key);
  }
  stepca_client_free(client);

  /* What cannot be built fails before any token is asked for. */
  int asked = 0;
  client = new_client(ca_root, must_not_be_called, &asked);
  stepca_key *key = openssl_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  stepca_csr_request *req = NULL;
  stepca_chain *chain = NULL;
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", "c-enroll-bad.example.com", &e_));
  OK(stepca_csr_request_set_signature_algorithm(req, STEPCA_SIG_RSA_PKCS1_SHA256, &e_));
  NAMES(stepca_enroll(client, key, req, NULL, &chain, &e_), STEPCA_ERR_INVALID_ARGUMENT, "signature_algorithm");
  CHECK(asked == 0 && chain == NULL);
  NAMES(stepca_enroll(NULL, key, req, NULL, &chain, &e_), STEPCA_ERR_NULL_ARGUMENT, "client");
  NAMES(stepca_enroll(client, NULL, req, NULL, &chain, &e_), STEPCA_ERR_NULL_ARGUMENT, "key");
  NAMES(stepca_enroll(client, key, NULL, NULL, &chain, &e_), STEPCA_ERR_NULL_ARGUMENT, "request");
  NAMES(stepca_enroll(client, key, req, NULL, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain_out");
  NAMES(stepca_enroll_external(client, NULL, req, NULL, &chain, &e_), STEPCA_ERR_NULL_ARGUMENT, "key");
  CHECK(asked == 0);
  stepca_csr_request_free(req);

  /* A per-call token wins over the client's provider, and step-ca's refusal comes back as
   * stepca_sign_cert's would: the token names another SAN than the request. */
  const char *good[] = {"c-enroll-good.example.com"};
  char *tok = h_mint_token("c-enroll-good.example.com", good, 1);
  stepca_sign_options *opts = NULL;
  OK(stepca_sign_options_new(&opts, &e_));
  OK(stepca_sign_options_set_token(opts, tok, &e_));
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", "c-enroll-good.example.com", &e_));
  OK(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "c-enroll-evil.example.com", &e_));
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_enroll(client, key, req, opts, &chain, &e), e, STEPCA_ERR_CA_REJECTED);
  CHECK(stepca_error_http_status(e) == 403 && chain == NULL && asked == 0);
  stepca_error_free(e);
  free(tok);
  stepca_sign_options_free(opts);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  stepca_client_free(client);
}

int main(void) {
  ca_url = h_env("STEPCA_URL");
  ca_root = h_env("STEPCA_ROOT");
  tmp = h_tempdir();
  test_each_key_type_through_the_callback();
  test_all_san_types_and_claims();
  test_rejections();
  test_enroll_in_one_call();
  test_callbacks();
  test_wrong_root_and_http();
  test_threads_share_a_client();
  h_rmtree(tmp);
  free(tmp);
  return h_finish();
}
