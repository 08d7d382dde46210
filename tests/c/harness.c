#include "harness.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int h_passed = 0, h_failed = 0;

void h_check(int ok, const char *file, int line, const char *expr, const char *detail) {
  if (ok) {
    h_passed++;
    return;
  }
  h_failed++;
  fprintf(stderr, "FAIL %s:%d: %s%s%s\n", file, line, expr, detail ? " -- " : "", detail ? detail : "");
}

int h_finish(void) {
  printf("%d passed, %d failed\n", h_passed, h_failed);
  return h_failed == 0 && h_passed > 0 ? 0 : 1;
}

char *h_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap) {
      break;
    }
    cap *= 2;
    buf = realloc(buf, cap + 1);
  }
  fclose(f);
  buf[n] = '\0';
  if (len != NULL) {
    *len = n;
  }
  return buf;
}

int h_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    return -1;
  }
  size_t w = fwrite(data, 1, len, f);
  return (fclose(f) == 0 && w == len) ? 0 : -1;
}

char *h_run(const char *cmd, int *status) {
  FILE *p = popen(cmd, "r");
  if (p == NULL) {
    if (status) *status = -1;
    return NULL;
  }
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, p)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
  }
  buf[n] = '\0';
  int st = pclose(p);
  if (status) *status = st;
  return buf;
}

char *h_tempdir(void) {
  char *dir = strdup("/tmp/stepca-ctest.XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
  return dir;
}

void h_rmtree(const char *dir) {
  char cmd[4200], q[4100];
  snprintf(cmd, sizeof cmd, "rm -rf %s", h_shquote(dir, q, sizeof q));
  free(h_run(cmd, NULL));
}

const char *h_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') {
    fprintf(stderr, "%s is not set: run this test under scripts/with-ca.sh\n", name);
    exit(2);
  }
  return v;
}

const char *h_shquote(const char *s, char *buf, size_t cap) {
  size_t n = 0;
  buf[n++] = '\'';
  for (; *s && n + 5 < cap; s++) {
    if (*s == '\'') {
      memcpy(buf + n, "'\\''", 4);
      n += 4;
    } else {
      buf[n++] = *s;
    }
  }
  buf[n++] = '\'';
  buf[n] = '\0';
  return buf;
}

char *h_mint_token(const char *subject, const char *const *sans, size_t nsans) {
  char cmd[8192], q[1024];
  size_t n = (size_t)snprintf(cmd, sizeof cmd, "scripts/mint-token.sh %s", h_shquote(subject, q, sizeof q));
  for (size_t i = 0; i < nsans && n < sizeof cmd; i++) {
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s", h_shquote(sans[i], q, sizeof q));
  }
  int st = 0;
  char *out = h_run(cmd, &st);
  if (out == NULL || st != 0) {
    free(out);
    return NULL;
  }
  out[strcspn(out, "\r\n")] = '\0';
  return out;
}

int h_minting_provider(void *user_data, const stepca_token_claims *claims, stepca_token_sink *sink) {
  if (user_data != NULL) {
    (*(int *)user_data)++;
  }
  char *tok = h_mint_token(claims->subject, (const char *const *)claims->sans, claims->sans_len);
  if (tok == NULL) {
    stepca_token_sink_set_error(sink, "step ca token failed", NULL);
    return 1;
  }
  stepca_status st = stepca_token_sink_set(sink, tok, strlen(tok), NULL);
  free(tok);
  return st == STEPCA_OK ? 0 : 1;
}

stepca_client *h_minting_client(void) {
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_client_builder_new(h_env("STEPCA_URL"), &b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_root_file(b, h_env("STEPCA_ROOT"), &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_token_provider(b, h_minting_provider, NULL, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_build(b, &c, &e), e, STEPCA_OK);
  stepca_error_free(e);
  stepca_client_builder_free(b);
  return c;
}

int h_names(const char *msg, const char *name) {
  size_t n = strlen(name);
  return strncmp(msg, name, n) == 0 && msg[n] == ':';
}

int h_softhsm_available(void) {
  const char *off = getenv("STEPCA_TEST_NO_SOFTHSM");
  return off == NULL || *off == '\0';
}

char *h_softhsm_token(const char *label, const char *pin) {
  char *dir = h_tempdir();
  if (!h_softhsm_available()) {
    printf("SKIPPED: the SoftHSM2 (PKCS#11) parts of this suite (STEPCA_TEST_NO_SOFTHSM is set)\n");
    return dir;
  }
  char tokens[512], conf[512], text[1100], cmd[4096], qc[600], ql[300], qp[300];
  snprintf(tokens, sizeof tokens, "%s/tokens", dir);
  snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
  snprintf(text, sizeof text, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens);
  int ok = mkdir(tokens, 0755) == 0 && h_write_file(conf, text, strlen(text)) == 0;
  /* The SO PIN is never used again: no test administers the token. */
  snprintf(cmd, sizeof cmd,
           "SOFTHSM2_CONF=%s softhsm2-util --init-token --free --label %s --pin %s --so-pin 24680 >/dev/null",
           h_shquote(conf, qc, sizeof qc), h_shquote(label, ql, sizeof ql), h_shquote(pin, qp, sizeof qp));
  int st = 0;
  if (ok) {
    free(h_run(cmd, &st));
  }
  CHECK_MSG(ok && st == 0, cmd);
  setenv("SOFTHSM2_CONF", conf, 1);
  return dir;
}

/* h_csr and h_csr_external: signed by `key` when it is not NULL, else through `ext`. */
static uint8_t *csr_for(const stepca_key *key, const stepca_external_key *ext, const char *cn, stepca_format format,
                        size_t *len) {
  stepca_csr_request *req = NULL;
  uint8_t *csr = NULL;
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", cn, &e_));
  OK(stepca_csr_request_add_san(req, STEPCA_SAN_DNS, cn, &e_));
  if (key != NULL) {
    OK(stepca_create_csr(key, req, format, &csr, len, &e_));
  } else {
    OK(stepca_create_csr_external(ext, req, format, &csr, len, &e_));
  }
  stepca_csr_request_free(req);
  return csr;
}

uint8_t *h_csr(const stepca_key *key, const char *cn, stepca_format format, size_t *len) {
  return csr_for(key, NULL, cn, format, len);
}

uint8_t *h_csr_external(const stepca_external_key *key, const char *cn, stepca_format format, size_t *len) {
  return csr_for(NULL, key, cn, format, len);
}

char *h_serial_of(const stepca_chain *chain) {
  uint8_t *s = NULL;
  size_t n = 0;
  OK(stepca_chain_serial(chain, &s, &n, &e_));
  char *copy = strdup(s != NULL ? (char *)s : "");
  stepca_free(s);
  return copy;
}

void h_check_openssl_csr(const char *dir, const uint8_t *csr, size_t len) {
  char path[1024], cmd[1200], q[1100];
  snprintf(path, sizeof path, "%s/check.csr", dir);
  h_write_file(path, csr, len);
  snprintf(cmd, sizeof cmd, "openssl req -verify -noout -in %s 2>&1", h_shquote(path, q, sizeof q));
  int st = 0;
  char *out = h_run(cmd, &st);
  CHECK_MSG(st == 0 && out != NULL && strstr(out, "verify OK") != NULL, out);
  free(out);
}

int h_openssl_verify(const char *path, char **out) {
  char cmd[4096], q1[1100], q2[1100];
  snprintf(cmd, sizeof cmd, "openssl verify -CAfile %s -untrusted %s %s 2>&1",
           h_shquote(h_env("STEPCA_ROOT"), q1, sizeof q1), h_shquote(path, q2, sizeof q2), q2);
  int st = 0;
  *out = h_run(cmd, &st);
  return st == 0 && *out != NULL && strstr(*out, ": OK") != NULL;
}

EVP_PKEY *h_pkey_generate(const char *type, const char *param) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *k = NULL;
  EVP_PKEY_keygen_init(c);
  if (strcmp(type, "EC") == 0) EVP_PKEY_CTX_set_group_name(c, param);
  if (strcmp(type, "RSA") == 0) EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048);
  EVP_PKEY_generate(c, &k);
  EVP_PKEY_CTX_free(c);
  return k;
}

unsigned char *h_evp_sign(EVP_PKEY *pkey, const EVP_MD *md, int pad, const uint8_t *data, size_t len,
                          size_t *sig_len) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *sig = NULL;
  int ok = ctx != NULL && EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey) == 1;
  if (ok && pad != 0) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, pad) == 1;
    if (ok && pad == RSA_PKCS1_PSS_PADDING) {
      ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
  }
  ok = ok && EVP_DigestSign(ctx, NULL, sig_len, data, len) == 1 && (sig = malloc(*sig_len)) != NULL &&
       EVP_DigestSign(ctx, sig, sig_len, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    free(sig);
    ERR_clear_error();
    return NULL;
  }
  return sig;
}

X509 *h_leaf_x509(const stepca_chain *chain) {
  uint8_t *der = NULL;
  size_t len = 0;
  OK(stepca_chain_get(chain, 0, STEPCA_FORMAT_DER, &der, &len, &e_));
  const unsigned char *p = der;
  X509 *x = der != NULL ? d2i_X509(NULL, &p, (long)len) : NULL;
  CHECK(x != NULL);
  stepca_free(der);
  return x;
}

int h_leaf_cn_is(const stepca_chain *chain, const char *cn) {
  X509 *x = h_leaf_x509(chain);
  char buf[256] = "";
  if (x != NULL) {
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
    X509_free(x);
  }
  return strcmp(buf, cn) == 0;
}

int h_leaf_has_spki(const stepca_chain *chain, const uint8_t *spki, size_t spki_len) {
  X509 *x = h_leaf_x509(chain);
  if (x == NULL) {
    return 0;
  }
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
  int same = n > 0 && (size_t)n == spki_len && memcmp(der, spki, spki_len) == 0;
  OPENSSL_free(der);
  X509_free(x);
  return same;
}
