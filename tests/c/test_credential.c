/* Credentials (a chain with its key) through the C API against a real step-ca (run under
 * scripts/with-ca.sh): keys held by an OpenSSL EVP_PKEY behind a sign callback, for P-256,
 * P-384, RSA-2048 and Ed25519, through their whole life (enroll, renew over mutual TLS and
 * with the token, rekey to a new held key, revoke); keys in a SoftHSM2 token, with
 * stepca_pkcs11_key_sign_digest; signers that fail or answer in the wrong scheme; and
 * every new function's argument checks.
 *
 * How the mutual-TLS path is proven: the sign callback sees the message it signs. A TLS 1.3
 * client signs 64 bytes of 0x20, "TLS 1.3, client CertificateVerify", a NUL and the
 * transcript hash; a renew token's message is base64url "header.claims". The callback
 * counts each kind and the algorithm stepca_signature_sink_algorithm asked for. */
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN_LABEL "cred-token"
#define PIN "2468"

/* A call expected to fail with `want`, its message containing `needle`. */
#define FAILS(call, want, needle)                                                            \
  do {                                                                                       \
    stepca_error *e_ = NULL;                                                                 \
    stepca_status s_ = (call);                                                               \
    CHECK_STATUS(s_, e_, want);                                                              \
    CHECK_MSG(e_ != NULL && strstr(stepca_error_message(e_), needle) != NULL,                \
              e_ != NULL ? stepca_error_message(e_) : "(no error object)");                  \
    stepca_error_free(e_);                                                                   \
  } while (0)

/* ------------------------------------------------------------------------------------ */
/* The held key: an OpenSSL key behind a sign callback that records what it signs.       */

struct held {
  EVP_PKEY *pkey;                      /* the private key (NULL when `proxy` signs) */
  const stepca_external_key *proxy;    /* a PKCS#11 key signing through sign_digest */
  stepca_sig_alg own_alg;              /* the key's algorithm for CSRs and tokens */
  int calls, handshakes, tokens, other;
  stepca_sig_alg handshake_alg, token_alg, other_alg;
  size_t handshake_len;
  int fail_handshake;                  /* refuse handshakes, saying why */
  int pkcs1_for_pss;                   /* answer PSS requests with PKCS#1 v1.5 */
};

static const char CV_CONTEXT[] = "TLS 1.3, client CertificateVerify"; /* sizeof: with NUL */

static int is_client_certificate_verify(const uint8_t *d, size_t len) {
  if (len < 64 + sizeof CV_CONTEXT) {
    return 0;
  }
  for (size_t i = 0; i < 64; i++) {
    if (d[i] != 0x20) {
      return 0;
    }
  }
  return memcmp(d + 64, CV_CONTEXT, sizeof CV_CONTEXT) == 0;
}

/* base64url(header) "." base64url(claims), the header a JSON object ("eyJ" is `{"`). */
static int is_token_message(const uint8_t *d, size_t len) {
  if (len < 8 || memcmp(d, "eyJ", 3) != 0) {
    return 0;
  }
  int dots = 0;
  for (size_t i = 0; i < len; i++) {
    char c = (char)d[i];
    if (c == '.') {
      dots++;
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_')) {
      return 0;
    }
  }
  return dots == 1;
}

/* The digest and RSA padding of a STEPCA_SIG_* value; 0 when unknown. */
static int scheme_of(stepca_sig_alg alg, const EVP_MD **md, int *pad) {
  *pad = 0;
  switch (alg) {
  case STEPCA_SIG_ECDSA_P256_SHA256: *md = EVP_sha256(); return 1;
  case STEPCA_SIG_ECDSA_P384_SHA384: *md = EVP_sha384(); return 1;
  case STEPCA_SIG_ED25519: *md = NULL; return 1;
  case STEPCA_SIG_RSA_PKCS1_SHA256: *md = EVP_sha256(); *pad = RSA_PKCS1_PADDING; return 1;
  case STEPCA_SIG_RSA_PKCS1_SHA384: *md = EVP_sha384(); *pad = RSA_PKCS1_PADDING; return 1;
  case STEPCA_SIG_RSA_PKCS1_SHA512: *md = EVP_sha512(); *pad = RSA_PKCS1_PADDING; return 1;
  case STEPCA_SIG_RSA_PSS_SHA256: *md = EVP_sha256(); *pad = RSA_PKCS1_PSS_PADDING; return 1;
  case STEPCA_SIG_RSA_PSS_SHA384: *md = EVP_sha384(); *pad = RSA_PKCS1_PSS_PADDING; return 1;
  case STEPCA_SIG_RSA_PSS_SHA512: *md = EVP_sha512(); *pad = RSA_PKCS1_PSS_PADDING; return 1;
  default: return 0;
  }
}

/* The sign callback: what a secure element's SDK would do, reading the algorithm asked. */
static int held_sign(void *ud, const uint8_t *data, size_t len, stepca_signature_sink *sink) {
  struct held *h = ud;
  stepca_sig_alg alg = stepca_signature_sink_algorithm(sink);
  h->calls++;
  if (is_client_certificate_verify(data, len)) {
    h->handshakes++;
    h->handshake_alg = alg;
    h->handshake_len = len;
    if (h->fail_handshake) {
      stepca_signature_sink_set_error(sink, "secure element locked: handshake refused", NULL);
      return 7;
    }
  } else if (is_token_message(data, len)) {
    h->tokens++;
    h->token_alg = alg;
  } else {
    h->other++;
    h->other_alg = alg;
  }
  const EVP_MD *md = NULL;
  int pad = 0;
  if (!scheme_of(alg, &md, &pad)) {
    stepca_signature_sink_set_error(sink, "unknown algorithm asked", NULL);
    return 1;
  }
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  int from_library = 0;
  if (h->proxy != NULL) {
    /* A PKCS#11 key behind a digest-signing interface, as Go's crypto.Signer has it. */
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    stepca_error *e = NULL;
    if (md == NULL || EVP_Digest(data, len, digest, &dlen, md, NULL) != 1 ||
        stepca_pkcs11_key_sign_digest(h->proxy, alg, digest, dlen, &sig, &sig_len, &e) != STEPCA_OK) {
      stepca_signature_sink_set_error(sink, e != NULL ? stepca_error_message(e) : "cannot digest", NULL);
      stepca_error_free(e);
      return 2;
    }
    from_library = 1;
  } else {
    if (h->pkcs1_for_pss && pad == RSA_PKCS1_PSS_PADDING) {
      pad = RSA_PKCS1_PADDING; /* the wrong scheme: libstepca must catch it */
    }
    sig = h_evp_sign(h->pkey, md, pad, data, len, &sig_len);
    if (sig == NULL) {
      stepca_signature_sink_set_error(sink, "openssl could not sign", NULL);
      return 3;
    }
  }
  int rc = stepca_signature_sink_set(sink, sig, sig_len, NULL) == STEPCA_OK ? 0 : 1;
  if (from_library) {
    stepca_free(sig);
  } else {
    free(sig);
  }
  return rc;
}

static void held_reset(struct held *h) {
  h->calls = h->handshakes = h->tokens = h->other = 0;
  h->handshake_alg = h->token_alg = h->other_alg = 0;
  h->handshake_len = 0;
}

/* A new key; that there is one counts as a check here. */
static EVP_PKEY *generate(const char *type, const char *param) {
  EVP_PKEY *k = h_pkey_generate(type, param);
  CHECK(k != NULL);
  return k;
}

static stepca_external_key *external_of(struct held *h) {
  unsigned char *spki = NULL;
  int n = i2d_PUBKEY(h->pkey, &spki);
  stepca_external_key *ek = NULL;
  CHECK(n > 0);
  OK(stepca_external_key_new(spki, (size_t)n, h->own_alg, held_sign, h, &ek, &e_));
  OPENSSL_free(spki);
  return ek;
}

/* ------------------------------------------------------------------------------------ */
/* Chains (their leaf as OpenSSL reads it: the harness) and enrolment.                  */

static int leaf_has_external_key(const stepca_chain *chain, const stepca_external_key *ek) {
  uint8_t *spki = NULL;
  size_t len = 0;
  OK(stepca_external_key_public_key(ek, &spki, &len, &e_));
  int same = spki != NULL && h_leaf_has_spki(chain, spki, len);
  stepca_free(spki);
  return same;
}

static int same_serial(const stepca_chain *a, const stepca_chain *b) {
  char *sa = h_serial_of(a), *sb = h_serial_of(b);
  int same = strcmp(sa, sb) == 0;
  free(sa);
  free(sb);
  return same;
}

static char *chain_pem(const stepca_chain *chain) {
  uint8_t *pem = NULL;
  size_t len = 0;
  OK(stepca_chain_pem(chain, &pem, &len, &e_));
  char *copy = strdup(pem != NULL ? (char *)pem : "");
  stepca_free(pem);
  return copy;
}

/* Enrolls a held key with a token from the harness's provisioner (step CLI). */
static stepca_chain *enroll_external(const stepca_client *client, const stepca_external_key *ek, const char *cn) {
  size_t len = 0;
  uint8_t *csr = h_csr_external(ek, cn, STEPCA_FORMAT_DER, &len);
  stepca_chain *chain = NULL;
  if (csr != NULL) {
    OK(stepca_sign_cert(client, csr, len, NULL, &chain, &e_));
  }
  stepca_free(csr);
  return chain;
}

static stepca_chain *enroll_memory(const stepca_client *client, const stepca_key *key, const char *cn) {
  size_t len = 0;
  uint8_t *csr = h_csr(key, cn, STEPCA_FORMAT_PEM, &len);
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(client, csr, len, NULL, &chain, &e_));
  stepca_free(csr);
  return chain;
}

static stepca_credential *credential_external(const stepca_chain *chain, const stepca_external_key *ek) {
  stepca_credential *cred = NULL;
  OK(stepca_credential_new_external(chain, ek, &cred, &e_));
  return cred;
}

/* A renewal over mutual TLS of a revoked certificate: refused by step-ca with 401. */
static void check_revoked(const stepca_client *client, const stepca_credential *cred, const char *what) {
  stepca_chain *out = NULL;
  stepca_error *e = NULL;
  stepca_status st = stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &out, &e);
  CHECK_STATUS(st, e, STEPCA_ERR_CA_REJECTED);
  CHECK_MSG(e != NULL && stepca_error_http_status(e) == 401, what);
  CHECK(out == NULL);
  stepca_error_free(e);
  stepca_chain_free(out);
}

/* ------------------------------------------------------------------------------------ */

/* Each algorithm held behind a callback, through its whole life. */
static void test_held_keys_whole_life(const stepca_client *client) {
  struct {
    const char *name, *type, *param;
    stepca_sig_alg own, handshake;
  } cases[] = {
      {"P-256", "EC", "P-256", STEPCA_SIG_ECDSA_P256_SHA256, STEPCA_SIG_ECDSA_P256_SHA256},
      {"P-384", "EC", "P-384", STEPCA_SIG_ECDSA_P384_SHA384, STEPCA_SIG_ECDSA_P384_SHA384},
      {"RSA-2048", "RSA", NULL, STEPCA_SIG_RSA_PKCS1_SHA256, STEPCA_SIG_RSA_PSS_SHA256},
      {"Ed25519", "ED25519", NULL, STEPCA_SIG_ED25519, STEPCA_SIG_ED25519},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *name = cases[i].name;
    char cn[64];
    snprintf(cn, sizeof cn, "cred-held-%zu.example.com", i);
    struct held k = {0};
    k.pkey = generate(cases[i].type, cases[i].param);
    k.own_alg = cases[i].own;
    stepca_external_key *ek = external_of(&k);

    /* 1. Enroll: the CSR is signed once, with the key's own algorithm. */
    stepca_chain *chain = enroll_external(client, ek, cn);
    CHECK_MSG(chain != NULL && leaf_has_external_key(chain, ek), name);
    CHECK_MSG(k.calls == 1 && k.other == 1 && k.other_alg == cases[i].own && k.handshakes == 0, name);
    stepca_credential *cred = credential_external(chain, ek);

    /* 2. Renew over mutual TLS: exactly one TLS 1.3 client CertificateVerify, in the
     * handshake's scheme (PSS for RSA), and nothing else signed. */
    held_reset(&k);
    stepca_chain *renewed = NULL;
    OK(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &renewed, &e_));
    CHECK_MSG(k.handshakes == 1 && k.calls == 1, name);
    CHECK_MSG(k.handshake_alg == cases[i].handshake, name);
    /* 64 + context + NUL + a SHA-256 or SHA-384 transcript hash. */
    CHECK_MSG(k.handshake_len == 64 + sizeof CV_CONTEXT + 32 || k.handshake_len == 64 + sizeof CV_CONTEXT + 48, name);
    CHECK_MSG(renewed != NULL && stepca_chain_count(renewed) == 2, name);
    CHECK_MSG(renewed != NULL && !same_serial(renewed, chain), name);
    CHECK_MSG(renewed != NULL && leaf_has_external_key(renewed, ek), name);
    CHECK_MSG(renewed != NULL && h_leaf_cn_is(renewed, cn), name);

    /* 3. Renew with the x5cInsecure token: one token signed with the key's own algorithm,
     * no handshake. */
    stepca_credential *cred2 = renewed != NULL ? credential_external(renewed, ek) : NULL;
    held_reset(&k);
    stepca_chain *by_token = NULL;
    OK(stepca_credential_renew(client, cred2, STEPCA_RENEW_TOKEN, &by_token, &e_));
    CHECK_MSG(k.handshakes == 0, name);
    CHECK_MSG(k.tokens == 1 && k.calls == 1 && k.token_alg == cases[i].own, name);
    CHECK_MSG(by_token != NULL && leaf_has_external_key(by_token, ek) && !same_serial(by_token, renewed), name);

    /* AUTO with a certificate that has not expired: mutual TLS. */
    held_reset(&k);
    stepca_chain *by_auto = NULL;
    OK(stepca_credential_renew(client, cred2, STEPCA_RENEW_AUTO, &by_auto, &e_));
    CHECK_MSG(k.handshakes == 1 && k.tokens == 0 && k.calls == 1, name);
    CHECK_MSG(by_auto != NULL && leaf_has_external_key(by_auto, ek), name);

    /* 4. Rekey to a new held key: the old key signs the handshake, the new one its CSR. */
    struct held k2 = {0};
    k2.pkey = generate(cases[i].type, cases[i].param);
    k2.own_alg = cases[i].own;
    stepca_external_key *ek2 = external_of(&k2);
    size_t csr_len = 0;
    uint8_t *csr2 = h_csr_external(ek2, cn, STEPCA_FORMAT_DER, &csr_len);
    held_reset(&k);
    held_reset(&k2);
    stepca_credential *cred3 = by_auto != NULL ? credential_external(by_auto, ek) : NULL;
    stepca_chain *rekeyed = NULL;
    OK(stepca_credential_rekey(client, cred3, csr2, csr_len, &rekeyed, &e_));
    CHECK_MSG(k.handshakes == 1 && k.calls == 1 && k.handshake_alg == cases[i].handshake, name);
    CHECK_MSG(k2.calls == 0, name);
    CHECK_MSG(rekeyed != NULL && leaf_has_external_key(rekeyed, ek2), name);
    CHECK_MSG(rekeyed != NULL && !leaf_has_external_key(rekeyed, ek), name);
    CHECK_MSG(rekeyed != NULL && h_leaf_cn_is(rekeyed, cn), name);
    /* The old key is not the new leaf's. */
    stepca_credential *wrong = NULL;
    NAMES(stepca_credential_new_external(rekeyed, ek, &wrong, &e_), STEPCA_ERR_INVALID_ARGUMENT, "signer");
    CHECK(wrong == NULL);

    /* 5. Revoke with the new credential over mutual TLS (the options' token is not used:
     * it is junk), then its renewal is refused with 401. */
    stepca_credential *cred4 = rekeyed != NULL ? credential_external(rekeyed, ek2) : NULL;
    stepca_revoke_options *ro = NULL;
    OK(stepca_revoke_options_new(&ro, &e_));
    OK(stepca_revoke_options_set_reason(ro, 4, "superseded by a test", &e_));
    OK(stepca_revoke_options_set_token(ro, "not-a-token", &e_));
    held_reset(&k2);
    OK(stepca_credential_revoke(client, cred4, i % 2 == 0 ? ro : NULL, &e_));
    CHECK_MSG(k2.handshakes == 1 && k2.calls == 1 && k2.handshake_alg == cases[i].handshake, name);
    check_revoked(client, cred4, name);
    /* The revoked certificate's renewal by token is refused too. */
    stepca_chain *none = NULL;
    stepca_error *err = NULL;
    CHECK_STATUS(stepca_credential_renew(client, cred4, STEPCA_RENEW_TOKEN, &none, &err), err, STEPCA_ERR_CA_REJECTED);
    CHECK(err != NULL && stepca_error_http_status(err) == 401);
    stepca_error_free(err);
    stepca_chain_free(none);

    stepca_revoke_options_free(ro);
    stepca_credential_free(cred4);
    stepca_credential_free(cred3);
    stepca_chain_free(rekeyed);
    stepca_free(csr2);
    stepca_external_key_free(ek2);
    EVP_PKEY_free(k2.pkey);
    stepca_chain_free(by_auto);
    stepca_chain_free(by_token);
    stepca_credential_free(cred2);
    stepca_chain_free(renewed);
    stepca_credential_free(cred);
    stepca_chain_free(chain);
    stepca_external_key_free(ek);
    EVP_PKEY_free(k.pkey);
  }
}

/* Signers that fail during the handshake, or answer PSS with PKCS#1 v1.5. */
static void test_failing_signers(const stepca_client *client) {
  /* A callback that refuses the handshake: STEPCA_ERR_SIGNER with its words, for every
   * call that authenticates over mutual TLS. */
  struct held k = {0};
  k.pkey = generate("EC", "P-256");
  k.own_alg = STEPCA_SIG_ECDSA_P256_SHA256;
  stepca_external_key *ek = external_of(&k);
  stepca_chain *chain = enroll_external(client, ek, "cred-locked.example.com");
  stepca_credential *cred = credential_external(chain, ek);
  k.fail_handshake = 1;
  stepca_chain *out = NULL;
  held_reset(&k);
  FAILS(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &out, &e_), STEPCA_ERR_SIGNER,
        "secure element locked: handshake refused");
  CHECK(out == NULL);
  CHECK(k.handshakes == 1); /* asked once, not again on a retry */
  held_reset(&k);
  FAILS(stepca_credential_renew(client, cred, STEPCA_RENEW_AUTO, &out, &e_), STEPCA_ERR_SIGNER,
        "secure element locked: handshake refused");
  CHECK(k.handshakes == 1);
  size_t csr_len = 0;
  uint8_t *csr = h_csr_external(ek, "cred-locked.example.com", STEPCA_FORMAT_DER, &csr_len);
  held_reset(&k);
  FAILS(stepca_credential_rekey(client, cred, csr, csr_len, &out, &e_), STEPCA_ERR_SIGNER,
        "secure element locked: handshake refused");
  CHECK(out == NULL && k.handshakes == 1);
  held_reset(&k);
  FAILS(stepca_credential_revoke(client, cred, NULL, &e_), STEPCA_ERR_SIGNER, "secure element locked: handshake refused");
  CHECK(k.handshakes == 1);
  /* The token path does not sign a handshake, so it still works; and the refused revoke
   * did not revoke anything. */
  held_reset(&k);
  OK(stepca_credential_renew(client, cred, STEPCA_RENEW_TOKEN, &out, &e_));
  CHECK(out != NULL && k.handshakes == 0 && k.tokens == 1);
  stepca_chain_free(out);
  out = NULL;
  k.fail_handshake = 0;
  OK(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &out, &e_));
  CHECK(out != NULL);
  stepca_chain_free(out);
  out = NULL;
  stepca_free(csr);
  stepca_credential_free(cred);
  stepca_chain_free(chain);
  stepca_external_key_free(ek);
  EVP_PKEY_free(k.pkey);

  /* An RSA callback that answers PSS with PKCS#1 v1.5: the signature does not verify as
   * asked, so STEPCA_ERR_SIGNER (not a TLS error). */
  struct held r = {0};
  r.pkey = generate("RSA", NULL);
  r.own_alg = STEPCA_SIG_RSA_PKCS1_SHA256;
  r.pkcs1_for_pss = 1;
  stepca_external_key *rk = external_of(&r);
  chain = enroll_external(client, rk, "cred-pkcs1.example.com"); /* CSRs are PKCS#1: fine */
  cred = credential_external(chain, rk);
  held_reset(&r);
  FAILS(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &out, &e_), STEPCA_ERR_SIGNER,
        "does not verify as RSA-PSS-SHA256");
  CHECK(out == NULL && r.handshakes == 1 && r.handshake_alg == STEPCA_SIG_RSA_PSS_SHA256);
  held_reset(&r);
  FAILS(stepca_credential_revoke(client, cred, NULL, &e_), STEPCA_ERR_SIGNER, "does not verify as RSA-PSS-SHA256");
  CHECK(r.handshakes == 1);
  /* PSS is for handshakes only: not an external key's own algorithm (CSRs, tokens). */
  {
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(r.pkey, &der);
    stepca_external_key *pss = NULL;
    NAMES(stepca_external_key_new(der, (size_t)len, STEPCA_SIG_RSA_PSS_SHA256, held_sign, &r, &pss, &e_),
          STEPCA_ERR_INVALID_ARGUMENT, "signature_algorithm");
    CHECK(pss == NULL);
    OPENSSL_free(der);
  }
  /* The same key answering correctly renews. */
  r.pkcs1_for_pss = 0;
  OK(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &out, &e_));
  CHECK(out != NULL && leaf_has_external_key(out, rk));
  stepca_chain_free(out);
  stepca_credential_free(cred);
  stepca_chain_free(chain);
  stepca_external_key_free(rk);
  EVP_PKEY_free(r.pkey);
}

/* A key in memory; keys that are not the leaf's; the chain; invalid and NULL arguments. */
static void test_memory_credential_and_arguments(const stepca_client *client) {
  stepca_key *key = NULL, *other = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e_));
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &other, &e_));
  stepca_chain *chain = enroll_memory(client, key, "cred-memory.example.com");
  stepca_credential *cred = NULL;
  OK(stepca_credential_new(chain, key, &cred, &e_));

  /* The chain comes back whole, as a new object. */
  stepca_chain *back = NULL;
  OK(stepca_credential_chain(cred, &back, &e_));
  CHECK(back != NULL && back != chain && stepca_chain_count(back) == stepca_chain_count(chain));
  char *p1 = chain_pem(chain), *p2 = back != NULL ? chain_pem(back) : strdup("");
  CHECK(p1[0] != '\0' && strcmp(p1, p2) == 0);
  free(p1);
  free(p2);
  stepca_chain_free(back);

  /* Renewed over mutual TLS: the same key. */
  stepca_chain *renewed = NULL;
  OK(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &renewed, &e_));
  X509 *a = h_leaf_x509(chain);
  unsigned char *spki = NULL;
  int n = a != NULL ? i2d_PUBKEY(X509_get0_pubkey(a), &spki) : 0;
  CHECK(renewed != NULL && n > 0 && h_leaf_has_spki(renewed, spki, (size_t)n) && !same_serial(renewed, chain));
  OPENSSL_free(spki);
  X509_free(a);
  stepca_chain_free(renewed);

  /* A key that is not the leaf's: named `key` in memory, `signer` held. */
  stepca_credential *bad = NULL;
  NAMES(stepca_credential_new(chain, other, &bad, &e_), STEPCA_ERR_INVALID_ARGUMENT, "key");
  CHECK(bad == NULL);
  struct held h = {0};
  h.pkey = generate("EC", "P-256");
  h.own_alg = STEPCA_SIG_ECDSA_P256_SHA256;
  stepca_external_key *ek = external_of(&h);
  NAMES(stepca_credential_new_external(chain, ek, &bad, &e_), STEPCA_ERR_INVALID_ARGUMENT, "signer");
  CHECK(bad == NULL && h.calls == 0);
  /* An external key of another type than the leaf's. */
  struct held ed = {0};
  ed.pkey = generate("ED25519", NULL);
  ed.own_alg = STEPCA_SIG_ED25519;
  stepca_external_key *edk = external_of(&ed);
  NAMES(stepca_credential_new_external(chain, edk, &bad, &e_), STEPCA_ERR_INVALID_ARGUMENT, "signer");
  CHECK(bad == NULL);

  /* Invalid values. */
  stepca_chain *out = NULL;
  NAMES(stepca_credential_renew(client, cred, 9, &out, &e_), STEPCA_ERR_INVALID_ARGUMENT, "auth");
  CHECK(out == NULL);
  NAMES(stepca_credential_rekey(client, cred, (const uint8_t *)"x", 0, &out, &e_), STEPCA_ERR_INVALID_ARGUMENT,
        "new_csr");
  {
    stepca_error *e = NULL;
    stepca_status st = stepca_credential_rekey(client, cred, (const uint8_t *)"not a CSR", 9, &out, &e);
    CHECK_STATUS(st, e, STEPCA_ERR_CSR);
    stepca_error_free(e);
  }
  CHECK(out == NULL);

  /* NULL arguments, each named; out-pointers cleared on entry. */
  static int sentinel_storage;
  void *sentinel = &sentinel_storage;
  stepca_credential *c_out = sentinel;
  NAMES(stepca_credential_new(NULL, key, &c_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain");
  CHECK(c_out == NULL);
  NAMES(stepca_credential_new(chain, NULL, &c_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "key");
  NAMES(stepca_credential_new(chain, key, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential_out");
  c_out = sentinel;
  NAMES(stepca_credential_new_external(NULL, ek, &c_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain");
  CHECK(c_out == NULL);
  NAMES(stepca_credential_new_external(chain, NULL, &c_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "key");
  NAMES(stepca_credential_new_external(chain, ek, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential_out");
  stepca_chain *ch_out = sentinel;
  NAMES(stepca_credential_chain(NULL, &ch_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  CHECK(ch_out == NULL);
  NAMES(stepca_credential_chain(cred, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain_out");
  ch_out = sentinel;
  NAMES(stepca_credential_renew(NULL, cred, STEPCA_RENEW_MTLS, &ch_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "client");
  CHECK(ch_out == NULL);
  NAMES(stepca_credential_renew(client, NULL, STEPCA_RENEW_MTLS, &ch_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  NAMES(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "chain_out");
  const uint8_t csr_bytes[] = "-----BEGIN CERTIFICATE REQUEST-----";
  ch_out = sentinel;
  NAMES(stepca_credential_rekey(NULL, cred, csr_bytes, sizeof csr_bytes, &ch_out, &e_), STEPCA_ERR_NULL_ARGUMENT,
        "client");
  CHECK(ch_out == NULL);
  NAMES(stepca_credential_rekey(client, NULL, csr_bytes, sizeof csr_bytes, &ch_out, &e_), STEPCA_ERR_NULL_ARGUMENT,
        "credential");
  NAMES(stepca_credential_rekey(client, cred, NULL, 10, &ch_out, &e_), STEPCA_ERR_NULL_ARGUMENT, "new_csr");
  NAMES(stepca_credential_rekey(client, cred, csr_bytes, sizeof csr_bytes, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT,
        "chain_out");
  NAMES(stepca_credential_revoke(NULL, cred, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "client");
  NAMES(stepca_credential_revoke(client, NULL, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  uint8_t digest[32] = {0}, *sig = sentinel;
  size_t sig_len = 77;
  NAMES(stepca_pkcs11_key_sign_digest(NULL, STEPCA_SIG_ECDSA_P256_SHA256, digest, 32, &sig, &sig_len, &e_),
        STEPCA_ERR_NULL_ARGUMENT, "key");
  CHECK(sig == NULL && sig_len == 0);
  NAMES(stepca_pkcs11_key_sign_digest(ek, STEPCA_SIG_ECDSA_P256_SHA256, NULL, 32, &sig, &sig_len, &e_),
        STEPCA_ERR_NULL_ARGUMENT, "digest");
  NAMES(stepca_pkcs11_key_sign_digest(ek, STEPCA_SIG_ECDSA_P256_SHA256, digest, 32, NULL, &sig_len, &e_),
        STEPCA_ERR_NULL_ARGUMENT, "sig_out");
  NAMES(stepca_pkcs11_key_sign_digest(ek, STEPCA_SIG_ECDSA_P256_SHA256, digest, 32, &sig, NULL, &e_),
        STEPCA_ERR_NULL_ARGUMENT, "sig_len");
  /* A callback key has no token to sign a digest in. */
  NAMES(stepca_pkcs11_key_sign_digest(ek, STEPCA_SIG_ECDSA_P256_SHA256, digest, 32, &sig, &sig_len, &e_),
        STEPCA_ERR_INVALID_ARGUMENT, "key");
  CHECK(sig == NULL && h.calls == 0);
  CHECK(stepca_signature_sink_algorithm(NULL) == 0);
  stepca_credential_free(NULL);

  stepca_external_key_free(edk);
  EVP_PKEY_free(ed.pkey);
  stepca_external_key_free(ek);
  EVP_PKEY_free(h.pkey);
  stepca_credential_free(cred);
  stepca_chain_free(chain);
  stepca_key_free(other);
  stepca_key_free(key);
}

/* ------------------------------------------------------------------------------------ */
/* SoftHSM2.                                                                            */

static EVP_PKEY *public_of(const stepca_external_key *ek) {
  uint8_t *spki = NULL;
  size_t len = 0;
  OK(stepca_external_key_public_key(ek, &spki, &len, &e_));
  const unsigned char *p = spki;
  EVP_PKEY *pub = spki != NULL ? d2i_PUBKEY(NULL, &p, (long)len) : NULL;
  CHECK(pub != NULL);
  stepca_free(spki);
  return pub;
}

/* OpenSSL's verdict on a signature over a digest: 1 valid, otherwise not. */
static int verify_digest(EVP_PKEY *pub, const EVP_MD *md, int pad, const uint8_t *digest, size_t dlen,
                         const uint8_t *sig, size_t sig_len) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
  int ok = c != NULL && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_signature_md(c, md) == 1;
  if (ok && pad != 0) {
    ok = EVP_PKEY_CTX_set_rsa_padding(c, pad) == 1;
    if (ok && pad == RSA_PKCS1_PSS_PADDING) {
      /* The salt must be exactly as long as the digest. */
      ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) == 1;
    }
  }
  int r = ok ? EVP_PKEY_verify(c, sig, sig_len, digest, dlen) : -1;
  EVP_PKEY_CTX_free(c);
  ERR_clear_error();
  return r;
}

static uint8_t *sign_digest(const stepca_external_key *ek, stepca_sig_alg alg, const uint8_t *d, size_t dlen,
                            size_t *sig_len) {
  uint8_t *sig = NULL;
  OK(stepca_pkcs11_key_sign_digest(ek, alg, d, dlen, &sig, sig_len, &e_));
  return sig;
}

static void test_sign_digest(const stepca_external_key *ec, const stepca_external_key *rsa) {
  uint8_t d256[32], d384[48];
  unsigned int n = 0;
  EVP_Digest("a digest-signing signer", 23, d256, &n, EVP_sha256(), NULL);
  EVP_Digest("a digest-signing signer", 23, d384, &n, EVP_sha384(), NULL);
  uint8_t other[32];
  memcpy(other, d256, 32);
  other[0] ^= 1;

  /* ECDSA: a DER ECDSA-Sig-Value that OpenSSL verifies; not over another digest. */
  EVP_PKEY *ec_pub = public_of(ec);
  size_t len = 0;
  uint8_t *sig = sign_digest(ec, STEPCA_SIG_ECDSA_P256_SHA256, d256, 32, &len);
  const unsigned char *p = sig;
  ECDSA_SIG *es = sig != NULL ? d2i_ECDSA_SIG(NULL, &p, (long)len) : NULL;
  CHECK(es != NULL && p == sig + len);
  ECDSA_SIG_free(es);
  CHECK(sig != NULL && verify_digest(ec_pub, EVP_sha256(), 0, d256, 32, sig, len) == 1);
  CHECK(sig != NULL && verify_digest(ec_pub, EVP_sha256(), 0, other, 32, sig, len) != 1);
  stepca_free(sig);

  /* RSA PKCS#1 v1.5 and PSS (salt = digest length), each only as itself. */
  EVP_PKEY *rsa_pub = public_of(rsa);
  uint8_t *pkcs1 = sign_digest(rsa, STEPCA_SIG_RSA_PKCS1_SHA256, d256, 32, &len);
  size_t pkcs1_len = len;
  CHECK(pkcs1 != NULL && len == 256);
  CHECK(pkcs1 != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PADDING, d256, 32, pkcs1, len) == 1);
  CHECK(pkcs1 != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PSS_PADDING, d256, 32, pkcs1, len) != 1);
  CHECK(pkcs1 != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PADDING, other, 32, pkcs1, len) != 1);
  uint8_t *pss = sign_digest(rsa, STEPCA_SIG_RSA_PSS_SHA256, d256, 32, &len);
  CHECK(pss != NULL && len == 256);
  CHECK(pss != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PSS_PADDING, d256, 32, pss, len) == 1);
  CHECK(pss != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PADDING, d256, 32, pss, len) != 1);
  CHECK(pss != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PSS_PADDING, other, 32, pss, len) != 1);
  /* PSS is randomised: a second signature differs from the first and verifies too. */
  size_t len2 = 0;
  uint8_t *pss2 = sign_digest(rsa, STEPCA_SIG_RSA_PSS_SHA256, d256, 32, &len2);
  CHECK(pss != NULL && pss2 != NULL && len2 == len && memcmp(pss, pss2, len) != 0);
  CHECK(pss2 != NULL && verify_digest(rsa_pub, EVP_sha256(), RSA_PKCS1_PSS_PADDING, d256, 32, pss2, len2) == 1);
  CHECK(pss != NULL && pkcs1 != NULL && (pkcs1_len != len || memcmp(pss, pkcs1, len) != 0));
  stepca_free(pss2);
  stepca_free(pss);
  stepca_free(pkcs1);
  sig = sign_digest(rsa, STEPCA_SIG_RSA_PSS_SHA384, d384, 48, &len);
  CHECK(sig != NULL && verify_digest(rsa_pub, EVP_sha384(), RSA_PKCS1_PSS_PADDING, d384, 48, sig, len) == 1);
  stepca_free(sig);

  /* A digest of the wrong length, the wrong family, no algorithm. */
  sig = NULL;
  NAMES(stepca_pkcs11_key_sign_digest(ec, STEPCA_SIG_ECDSA_P256_SHA256, d256, 31, &sig, &len, &e_),
        STEPCA_ERR_INVALID_ARGUMENT, "digest");
  NAMES(stepca_pkcs11_key_sign_digest(rsa, STEPCA_SIG_RSA_PSS_SHA384, d256, 32, &sig, &len, &e_),
        STEPCA_ERR_INVALID_ARGUMENT, "digest");
  NAMES(stepca_pkcs11_key_sign_digest(rsa, STEPCA_SIG_RSA_PKCS1_SHA256, d384, 48, &sig, &len, &e_),
        STEPCA_ERR_INVALID_ARGUMENT, "digest");
  NAMES(stepca_pkcs11_key_sign_digest(ec, STEPCA_SIG_RSA_PSS_SHA256, d256, 32, &sig, &len, &e_),
        STEPCA_ERR_INVALID_ARGUMENT, "signature_algorithm");
  NAMES(stepca_pkcs11_key_sign_digest(ec, STEPCA_SIG_DEFAULT, d256, 32, &sig, &len, &e_), STEPCA_ERR_INVALID_ARGUMENT,
        "alg");
  CHECK(sig == NULL);

  EVP_PKEY_free(rsa_pub);
  EVP_PKEY_free(ec_pub);
}

static void test_pkcs11_keys(const stepca_client *client) {
  struct {
    const char *name, *label, *next;
    stepca_key_type type;
    stepca_sig_alg own, handshake;
  } cases[] = {
      {"PKCS#11 P-256", "cred-ec", "cred-ec-next", STEPCA_KEY_EC_P256, STEPCA_SIG_ECDSA_P256_SHA256,
       STEPCA_SIG_ECDSA_P256_SHA256},
      {"PKCS#11 RSA-2048", "cred-rsa", "cred-rsa-next", STEPCA_KEY_RSA_2048, STEPCA_SIG_RSA_PKCS1_SHA256,
       STEPCA_SIG_RSA_PSS_SHA256},
  };
  stepca_external_key *keys[2] = {NULL, NULL};
  for (size_t i = 0; i < 2; i++) {
    const char *name = cases[i].name;
    char cn[64];
    snprintf(cn, sizeof cn, "cred-hsm-%zu.example.com", i);
    stepca_external_key *key = NULL;
    OK(stepca_pkcs11_key_generate(MODULE, TOKEN_LABEL, PIN, cases[i].label, cases[i].type, &key, &e_));
    keys[i] = key;
    if (key == NULL) {
      continue;
    }

    /* Enroll, then renew over mutual TLS with the token's key. */
    stepca_chain *chain = enroll_external(client, key, cn);
    CHECK_MSG(chain != NULL && leaf_has_external_key(chain, key), name);
    stepca_credential *cred = credential_external(chain, key);
    stepca_chain *renewed = NULL;
    OK(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &renewed, &e_));
    CHECK_MSG(renewed != NULL && leaf_has_external_key(renewed, key) && !same_serial(renewed, chain), name);
    CHECK_MSG(renewed != NULL && h_leaf_cn_is(renewed, cn), name);

    /* The same token key behind a callback that signs through
     * stepca_pkcs11_key_sign_digest (the Go binding's path): the handshake it signs is a
     * TLS 1.3 CertificateVerify in the scheme asked (PSS for RSA). */
    struct held proxy = {0};
    proxy.proxy = key;
    proxy.own_alg = cases[i].own;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    OK(stepca_external_key_public_key(key, &spki, &spki_len, &e_));
    stepca_external_key *pk = NULL;
    OK(stepca_external_key_new(spki, spki_len, cases[i].own, held_sign, &proxy, &pk, &e_));
    stepca_free(spki);
    stepca_credential *pcred = renewed != NULL ? credential_external(renewed, pk) : NULL;
    stepca_chain *via_digest = NULL;
    OK(stepca_credential_renew(client, pcred, STEPCA_RENEW_MTLS, &via_digest, &e_));
    CHECK_MSG(proxy.handshakes == 1 && proxy.calls == 1 && proxy.handshake_alg == cases[i].handshake, name);
    CHECK_MSG(via_digest != NULL && leaf_has_external_key(via_digest, key), name);

    /* Rekey to a key generated in the same token. */
    stepca_external_key *next = NULL;
    OK(stepca_pkcs11_key_generate(MODULE, TOKEN_LABEL, PIN, cases[i].next, cases[i].type, &next, &e_));
    size_t csr_len = 0;
    uint8_t *csr = next != NULL ? h_csr_external(next, cn, STEPCA_FORMAT_DER, &csr_len) : NULL;
    stepca_credential *cred2 = via_digest != NULL ? credential_external(via_digest, key) : NULL;
    stepca_chain *rekeyed = NULL;
    OK(stepca_credential_rekey(client, cred2, csr, csr_len, &rekeyed, &e_));
    CHECK_MSG(rekeyed != NULL && leaf_has_external_key(rekeyed, next), name);
    CHECK_MSG(rekeyed != NULL && !leaf_has_external_key(rekeyed, key), name);
    CHECK_MSG(rekeyed != NULL && h_leaf_cn_is(rekeyed, cn), name);

    /* Revoke with the new credential; then its renewal is refused with 401. */
    stepca_credential *cred3 = rekeyed != NULL ? credential_external(rekeyed, next) : NULL;
    OK(stepca_credential_revoke(client, cred3, NULL, &e_));
    check_revoked(client, cred3, name);

    stepca_credential_free(cred3);
    stepca_chain_free(rekeyed);
    stepca_credential_free(cred2);
    stepca_free(csr);
    stepca_external_key_free(next);
    stepca_chain_free(via_digest);
    stepca_credential_free(pcred);
    stepca_external_key_free(pk);
    stepca_chain_free(renewed);
    stepca_credential_free(cred);
    stepca_chain_free(chain);
  }
  if (keys[0] != NULL && keys[1] != NULL) {
    test_sign_digest(keys[0], keys[1]);
  }
  stepca_external_key_free(keys[0]);
  stepca_external_key_free(keys[1]);
}

int main(void) {
  /* An own SoftHSM2 token, set up before anything loads the module. */
  char *dir = h_softhsm_token(TOKEN_LABEL, PIN);

  stepca_client *client = h_minting_client();
  test_memory_credential_and_arguments(client);
  test_held_keys_whole_life(client);
  test_failing_signers(client);
  if (h_softhsm_available()) test_pkcs11_keys(client);
  stepca_client_free(client);
  h_rmtree(dir);
  free(dir);
  return h_finish();
}
