/* X5C provisioner tokens through the C API against a real step-ca (run under
 * scripts/with-ca.sh, whose X5C provisioner $STEPCA_X5C_PROVISIONER trusts the factory CA
 * $STEPCA_FACTORY_ROOT). A device trades its birth certificate (IDevID, made here with
 * `step certificate sign` by the factory CA) for an operational certificate, the token
 * signed in process by the IDevID key: in memory, behind an OpenSSL sign callback, and in
 * a SoftHSM2 token opened by PKCS#11 URI. Also: revocation with an X5C revoke token; the
 * local refusals (keyUsage, extendedKeyUsage, expired, not yet valid, notAfter past the
 * birth certificate's); a device of another factory refused by step-ca; the CSR
 * fingerprint a token provider is told, checked with OpenSSL, and step-ca refusing a token
 * bound to another CSR; and every new function's argument checks.
 *
 * How the token's contents are seen: the callback signer is handed the JWS signing input,
 * base64url(header) "." base64url(claims), and decodes it. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN_LABEL "x5c-token"
#define PIN "97531"

static char *g_dir;           /* this run's temporary directory */
static const char *g_prov;    /* the X5C provisioner's name at the CA */

static int64_t now_unix(void) {
  return (int64_t)time(NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Fingerprints and token contents, computed with OpenSSL.                               */

/* base64url without padding of SHA-256(data): what `cnf` and csr_fingerprint carry. */
static void sha256_b64url(const uint8_t *data, size_t len, char out[64]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  out[0] = '\0';
  if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
    CHECK_MSG(0, "EVP_Digest");
    return;
  }
  unsigned char b64[64];
  int m = EVP_EncodeBlock(b64, md, (int)n); /* 44 characters, one '=' */
  int k = 0;
  for (int i = 0; i < m; i++) {
    char c = (char)b64[i];
    if (c == '=') {
      continue;
    }
    out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  out[k] = '\0';
}

/* Decodes base64url (no padding) into a new NUL-terminated string; NULL on failure. */
static char *b64url_decode(const char *s, size_t n) {
  size_t padded = (n + 3) / 4 * 4;
  unsigned char *in = malloc(padded + 1), *out = malloc(padded + 1);
  for (size_t i = 0; i < padded; i++) {
    in[i] = i >= n ? '=' : s[i] == '-' ? '+' : s[i] == '_' ? '/' : (unsigned char)s[i];
  }
  int len = EVP_DecodeBlock(out, in, (int)padded);
  free(in);
  if (len < 0) {
    free(out);
    return NULL;
  }
  out[len] = '\0';
  return (char *)out;
}

/* The integer value of `"name":` in a JSON text, or -1. */
static int64_t json_int(const char *json, const char *name) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", name);
  const char *p = json != NULL ? strstr(json, pat) : NULL;
  return p != NULL ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static int contains(const char *hay, const char *needle) {
  return hay != NULL && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------------------------------ */
/* The factory: birth certificates from `step certificate sign`.                          */

/* Signs the IDevID CSR (PEM) with the factory CA (or the issuer given) as `step
 * certificate sign` does, with `extra` flags; a chain, or NULL (the output is shown). */
static stepca_chain *birth_certificate(const uint8_t *csr_pem, size_t csr_len, const char *issuer_crt,
                                       const char *issuer_key, const char *extra) {
  char csr_path[600], cmd[4096], q1[700], q2[700], q3[700];
  snprintf(csr_path, sizeof csr_path, "%s/idevid.csr", g_dir);
  if (h_write_file(csr_path, csr_pem, csr_len) != 0) {
    CHECK_MSG(0, "writing the IDevID CSR");
    return NULL;
  }
  snprintf(cmd, sizeof cmd, "step certificate sign %s %s %s %s 2>&1", h_shquote(csr_path, q1, sizeof q1),
           h_shquote(issuer_crt != NULL ? issuer_crt : h_env("STEPCA_FACTORY_ROOT"), q2, sizeof q2),
           h_shquote(issuer_key != NULL ? issuer_key : h_env("STEPCA_FACTORY_KEY"), q3, sizeof q3),
           extra != NULL ? extra : "");
  int st = 0;
  char *pem = h_run(cmd, &st);
  stepca_chain *chain = NULL;
  if (pem == NULL || st != 0) {
    CHECK_MSG(0, pem != NULL ? pem : cmd);
  } else {
    OK(stepca_chain_load((const uint8_t *)pem, strlen(pem), &chain, &e_));
  }
  free(pem);
  return chain;
}

/* A factory credential with a new P-256 key in memory: the IDevID `serial_cn`, its birth
 * certificate signed by the factory CA (or `issuer_*`) with `extra` flags. */
static stepca_credential *factory_in_memory(const char *serial_cn, const char *issuer_crt, const char *issuer_key,
                                            const char *extra) {
  stepca_key *key = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e_));
  size_t len = 0;
  uint8_t *csr = key != NULL ? h_csr(key, serial_cn, STEPCA_FORMAT_PEM, &len) : NULL;
  stepca_chain *birth = csr != NULL ? birth_certificate(csr, len, issuer_crt, issuer_key, extra) : NULL;
  stepca_credential *cred = NULL;
  if (birth != NULL) {
    OK(stepca_credential_new(birth, key, &cred, &e_));
  }
  /* The credential holds its own share of both. */
  stepca_chain_free(birth);
  stepca_free(csr);
  stepca_key_free(key);
  return cred;
}

static stepca_x5c_provisioner *provisioner_of(const stepca_credential *factory) {
  stepca_x5c_provisioner *p = NULL;
  OK(stepca_x5c_provisioner_new(g_prov, factory, &p, &e_));
  return p;
}

static stepca_sign_options *x5c_options(const stepca_x5c_provisioner *p) {
  stepca_sign_options *o = NULL;
  OK(stepca_sign_options_new(&o, &e_));
  OK(stepca_sign_options_set_x5c_provisioner(o, p, &e_));
  return o;
}

/* A client trusting the CA's root, with no token provider of its own. */
static stepca_client *plain_client(stepca_time_source_fn clock, void *clock_data) {
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  OK(stepca_client_builder_new(h_env("STEPCA_URL"), &b, &e_));
  OK(stepca_client_builder_set_root_file(b, h_env("STEPCA_ROOT"), &e_));
  if (clock != NULL) {
    OK(stepca_client_builder_set_time_source(b, clock, clock_data, &e_));
  }
  OK(stepca_client_builder_build(b, &c, &e_));
  stepca_client_builder_free(b);
  return c;
}

/* ------------------------------------------------------------------------------------ */
/* Checks on the operational certificate.                                                 */

/* openssl verifies the chain to the step-ca root. */
static int openssl_verifies(const stepca_chain *chain) {
  uint8_t *pem = NULL;
  size_t len = 0;
  OK(stepca_chain_pem(chain, &pem, &len, &e_));
  char path[600];
  snprintf(path, sizeof path, "%s/op.pem", g_dir);
  int ok = pem != NULL && h_write_file(path, pem, len) == 0;
  stepca_free(pem);
  char *out = NULL;
  int verified = h_openssl_verify(path, &out);
  ok = ok && verified;
  CHECK_MSG(ok, out);
  free(out);
  return ok;
}

/* step-ca ends an X5C certificate no later than the birth certificate. */
static int ends_by(const stepca_chain *op, const stepca_credential *factory) {
  stepca_chain *birth = NULL;
  OK(stepca_credential_chain(factory, &birth, &e_));
  int64_t nb = 0, op_na = 0, birth_na = 0;
  OK(stepca_chain_validity(op, &nb, &op_na, &e_));
  OK(stepca_chain_validity(birth, &nb, &birth_na, &e_));
  stepca_chain_free(birth);
  return op_na > 0 && op_na <= birth_na;
}

/* A renewal over mutual TLS of a revoked certificate: refused by step-ca with 401. */
static void check_revoked(const stepca_client *client, const stepca_chain *chain, const stepca_key *key) {
  stepca_credential *cred = NULL;
  OK(stepca_credential_new(chain, key, &cred, &e_));
  stepca_chain *out = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_credential_renew(client, cred, STEPCA_RENEW_MTLS, &out, &e), e, STEPCA_ERR_CA_REJECTED);
  CHECK_MSG(e != NULL && stepca_error_http_status(e) == 401, stepca_error_message(e));
  CHECK(out == NULL);
  stepca_error_free(e);
  stepca_credential_free(cred);
}

/* ------------------------------------------------------------------------------------ */
/* (a) The IDevID key in memory: enroll through sign options and through a client whose  */
/* token provider is the provisioner.                                                     */

static void test_in_memory(const stepca_client *client) {
  stepca_credential *factory = factory_in_memory("SN-MEM-0001", NULL, NULL, NULL);
  stepca_x5c_provisioner *p = factory != NULL ? provisioner_of(factory) : NULL;
  stepca_key *op = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &op, &e_));
  size_t len = 0;
  uint8_t *csr = h_csr(op, "op-mem.example.com", STEPCA_FORMAT_DER, &len);

  /* Sign options with the provisioner; the provisioner is freed before the call: the
   * options keep their share. */
  stepca_sign_options *o = x5c_options(p);
  stepca_x5c_provisioner_free(p);
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(client, csr, len, o, &chain, &e_));
  CHECK(chain != NULL && h_leaf_cn_is(chain, "op-mem.example.com"));
  CHECK(chain != NULL && openssl_verifies(chain));
  CHECK(chain != NULL && ends_by(chain, factory));
  /* The operational key, not the factory's, is in the certificate. */
  CHECK(chain != NULL && stepca_chain_count(chain) == 2);

  /* A client whose token provider is the provisioner; the builder and the provisioner
   * are freed before the call. */
  stepca_x5c_provisioner *p2 = provisioner_of(factory);
  stepca_client_builder *b = NULL;
  stepca_client *c2 = NULL;
  OK(stepca_client_builder_new(h_env("STEPCA_URL"), &b, &e_));
  OK(stepca_client_builder_set_root_file(b, h_env("STEPCA_ROOT"), &e_));
  OK(stepca_client_builder_set_x5c_provisioner(b, p2, &e_));
  OK(stepca_client_builder_build(b, &c2, &e_));
  stepca_client_builder_free(b);
  stepca_x5c_provisioner_free(p2);
  size_t len2 = 0;
  uint8_t *csr2 = h_csr(op, "op-mem-2.example.com", STEPCA_FORMAT_PEM, &len2);
  stepca_chain *chain2 = NULL;
  OK(stepca_sign_cert(c2, csr2, len2, NULL, &chain2, &e_));
  CHECK(chain2 != NULL && h_leaf_cn_is(chain2, "op-mem-2.example.com"));
  CHECK(chain2 != NULL && openssl_verifies(chain2));

  stepca_chain_free(chain2);
  stepca_free(csr2);
  stepca_client_free(c2);
  stepca_chain_free(chain);
  stepca_sign_options_free(o);
  stepca_free(csr);
  stepca_key_free(op);
  stepca_credential_free(factory);
}

/* ------------------------------------------------------------------------------------ */
/* (b) The IDevID key behind an OpenSSL sign callback, as a secure element's SDK would    */
/* hold it; the callback decodes the tokens it signs. Then an X5C revoke token.          */

struct held {
  EVP_PKEY *pkey;
  int calls, tokens, handshakes, other;
  char *header, *claims; /* the last token's, decoded */
};

static const char CV_CONTEXT[] = "TLS 1.3, client CertificateVerify";

static int is_handshake(const uint8_t *d, size_t len) {
  return len > 64 + sizeof CV_CONTEXT && d[0] == 0x20 && memcmp(d + 64, CV_CONTEXT, sizeof CV_CONTEXT) == 0;
}

/* base64url(header) "." base64url(claims), the header a JSON object ("eyJ" is `{"`). */
static const uint8_t *token_dot(const uint8_t *d, size_t len) {
  if (len < 8 || memcmp(d, "eyJ", 3) != 0) {
    return NULL;
  }
  const uint8_t *dot = NULL;
  for (size_t i = 0; i < len; i++) {
    char c = (char)d[i];
    if (c == '.') {
      if (dot != NULL) {
        return NULL;
      }
      dot = d + i;
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_')) {
      return NULL;
    }
  }
  return dot;
}

static int held_sign(void *ud, const uint8_t *data, size_t len, stepca_signature_sink *sink) {
  struct held *h = ud;
  h->calls++;
  const uint8_t *dot = token_dot(data, len);
  if (is_handshake(data, len)) {
    h->handshakes++;
  } else if (dot != NULL) {
    h->tokens++;
    free(h->header);
    free(h->claims);
    h->header = b64url_decode((const char *)data, (size_t)(dot - data));
    h->claims = b64url_decode((const char *)dot + 1, len - (size_t)(dot - data) - 1);
  } else {
    h->other++;
  }
  if (stepca_signature_sink_algorithm(sink) != STEPCA_SIG_ECDSA_P256_SHA256) {
    stepca_signature_sink_set_error(sink, "this P-256 signer was asked for another algorithm", NULL);
    return 1;
  }
  size_t sig_len = 0;
  unsigned char *sig = h_evp_sign(h->pkey, EVP_sha256(), 0, data, len, &sig_len);
  int rc = 1;
  if (sig == NULL) {
    stepca_signature_sink_set_error(sink, "openssl could not sign", NULL);
  } else {
    rc = stepca_signature_sink_set(sink, sig, sig_len, NULL) == STEPCA_OK ? 0 : 1;
  }
  free(sig);
  return rc;
}

static void held_reset(struct held *h) {
  h->calls = h->tokens = h->handshakes = h->other = 0;
  free(h->header);
  free(h->claims);
  h->header = h->claims = NULL;
}

static void test_callback_signer(const stepca_client *client) {
  struct held h = {0};
  h.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  CHECK(h.pkey != NULL);
  unsigned char *spki = NULL;
  int spki_len = h.pkey != NULL ? i2d_PUBKEY(h.pkey, &spki) : -1;
  stepca_external_key *ek = NULL;
  OK(stepca_external_key_new(spki, spki_len > 0 ? (size_t)spki_len : 0, STEPCA_SIG_ECDSA_P256_SHA256, held_sign, &h,
                             &ek, &e_));
  OPENSSL_free(spki);

  /* The factory line: the IDevID CSR is signed through the callback, the birth
   * certificate issued by the factory CA. */
  size_t len = 0;
  uint8_t *idevid_csr = ek != NULL ? h_csr_external(ek, "SN-HELD-0002", STEPCA_FORMAT_PEM, &len) : NULL;
  stepca_chain *birth = idevid_csr != NULL ? birth_certificate(idevid_csr, len, NULL, NULL, NULL) : NULL;
  stepca_free(idevid_csr);
  stepca_credential *factory = NULL;
  if (birth != NULL) {
    OK(stepca_credential_new_external(birth, ek, &factory, &e_));
  }
  stepca_x5c_provisioner *p = factory != NULL ? provisioner_of(factory) : NULL;
  OK(stepca_x5c_provisioner_set_lifetime(p, 60, &e_));

  /* Enroll: one token signed, no handshake, nothing else. */
  stepca_key *op = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &op, &e_));
  uint8_t *csr = h_csr(op, "op-held.example.com", STEPCA_FORMAT_DER, &len);
  char fp[64];
  sha256_b64url(csr, len, fp);
  stepca_sign_options *o = x5c_options(p);
  held_reset(&h);
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(client, csr, len, o, &chain, &e_));
  CHECK(chain != NULL && h_leaf_cn_is(chain, "op-held.example.com"));
  CHECK(chain != NULL && openssl_verifies(chain));
  CHECK(chain != NULL && ends_by(chain, factory));
  CHECK_MSG(h.calls == 1 && h.tokens == 1 && h.handshakes == 0, "one token, no handshake");

  /* What the token says: the factory chain in x5c, the provisioner as issuer, the sign
   * audience with step-ca's #x5c/<name> fragment, the lifetime set, and cnf = the
   * fingerprint of the CSR (computed here with OpenSSL). */
  char want[512];
  CHECK_MSG(contains(h.header, "\"x5c\":[\"") && contains(h.header, "\"alg\":\"ES256\""), h.header);
  snprintf(want, sizeof want, "\"iss\":\"%s\"", g_prov);
  CHECK_MSG(contains(h.claims, want), h.claims);
  snprintf(want, sizeof want, "\"aud\":\"%s/1.0/sign#x5c/%s\"", h_env("STEPCA_URL"), g_prov);
  CHECK_MSG(contains(h.claims, want), h.claims);
  snprintf(want, sizeof want, "\"cnf\":{\"x5rt#S256\":\"%s\"}", fp);
  CHECK_MSG(strlen(fp) == 43 && contains(h.claims, want), h.claims);
  CHECK_MSG(contains(h.claims, "\"sub\":\"op-held.example.com\""), h.claims);
  CHECK_MSG(json_int(h.claims, "exp") - json_int(h.claims, "nbf") == 60, h.claims);

  /* Revoke the operational certificate with an X5C revoke token signed by the same
   * factory key: no cnf, the revoke audience, the serial as subject. */
  uint8_t *serial = NULL;
  size_t serial_len = 0;
  OK(stepca_chain_serial(chain, &serial, &serial_len, &e_));
  stepca_revoke_options *ro = NULL;
  OK(stepca_revoke_options_new(&ro, &e_));
  OK(stepca_revoke_options_set_reason(ro, 1, "IDevID key compromise drill", &e_));
  OK(stepca_revoke_options_set_x5c_provisioner(ro, p, &e_));
  held_reset(&h);
  OK(stepca_revoke(client, serial != NULL ? (const char *)serial : "0", ro, &e_));
  CHECK_MSG(h.calls == 1 && h.tokens == 1 && h.handshakes == 0, "one revoke token");
  snprintf(want, sizeof want, "\"aud\":\"%s/1.0/revoke#x5c/%s\"", h_env("STEPCA_URL"), g_prov);
  CHECK_MSG(contains(h.claims, want), h.claims);
  snprintf(want, sizeof want, "\"sub\":\"%s\"", serial != NULL ? (const char *)serial : "?");
  CHECK_MSG(contains(h.claims, want), h.claims);
  CHECK_MSG(h.claims != NULL && !contains(h.claims, "\"cnf\""), h.claims);
  /* Revoked: its renewal over mutual TLS is refused. */
  if (chain != NULL) {
    check_revoked(client, chain, op);
  }

  held_reset(&h);
  stepca_free(serial);
  stepca_revoke_options_free(ro);
  stepca_chain_free(chain);
  stepca_sign_options_free(o);
  stepca_free(csr);
  stepca_key_free(op);
  stepca_x5c_provisioner_free(p);
  stepca_credential_free(factory);
  stepca_chain_free(birth);
  stepca_external_key_free(ek);
  EVP_PKEY_free(h.pkey);
}

/* ------------------------------------------------------------------------------------ */
/* (c) The IDevID key in a SoftHSM2 token, opened by PKCS#11 URI with a PIN file.         */

static void test_pkcs11(const stepca_client *client) {
  /* The factory line generates the key pair in the token; the device later opens it by
   * URI, as step's --kms takes it. */
  stepca_external_key *gen = NULL;
  OK(stepca_pkcs11_key_generate(MODULE, TOKEN_LABEL, PIN, "idevid", STEPCA_KEY_EC_P256, &gen, &e_));
  stepca_external_key_free(gen);
  char pin_path[600], bad_pin[600], uri[2048];
  snprintf(pin_path, sizeof pin_path, "%s/pin.txt", g_dir);
  snprintf(bad_pin, sizeof bad_pin, "%s/bad-pin.txt", g_dir);
  h_write_file(pin_path, PIN "\n", strlen(PIN) + 1);
  h_write_file(bad_pin, "00000\n", 6);
  snprintf(uri, sizeof uri, "pkcs11:token=" TOKEN_LABEL ";object=idevid?module-path=" MODULE "&pin-source=file:%s",
           pin_path);
  stepca_external_key *key = NULL;
  OK(stepca_pkcs11_key_open_uri(uri, &key, &e_));

  size_t len = 0;
  uint8_t *idevid_csr = key != NULL ? h_csr_external(key, "SN-HSM-0003", STEPCA_FORMAT_PEM, &len) : NULL;
  stepca_chain *birth = idevid_csr != NULL ? birth_certificate(idevid_csr, len, NULL, NULL, NULL) : NULL;
  stepca_free(idevid_csr);
  /* The birth certificate carries the token's key. */
  uint8_t *spki = NULL;
  size_t spki_len = 0;
  OK(stepca_external_key_public_key(key, &spki, &spki_len, &e_));
  CHECK(birth != NULL && spki != NULL && h_leaf_has_spki(birth, spki, spki_len));
  stepca_free(spki);

  stepca_credential *factory = NULL;
  if (birth != NULL) {
    OK(stepca_credential_new_external(birth, key, &factory, &e_));
  }
  stepca_x5c_provisioner *p = factory != NULL ? provisioner_of(factory) : NULL;
  stepca_key *op = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &op, &e_));
  uint8_t *csr = h_csr(op, "op-hsm.example.com", STEPCA_FORMAT_PEM, &len);
  stepca_sign_options *o = x5c_options(p);
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(client, csr, len, o, &chain, &e_));
  CHECK(chain != NULL && h_leaf_cn_is(chain, "op-hsm.example.com"));
  CHECK(chain != NULL && openssl_verifies(chain));
  CHECK(chain != NULL && ends_by(chain, factory));

  /* A wrong PIN in the file: the passphrase error, without the PIN. */
  stepca_external_key *bad = NULL;
  snprintf(uri, sizeof uri, "pkcs11:token=" TOKEN_LABEL ";object=idevid?module-path=" MODULE "&pin-source=file:%s",
           bad_pin);
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_pkcs11_key_open_uri(uri, &bad, &e), e, STEPCA_ERR_KEY_PASSPHRASE);
  CHECK(bad == NULL && e != NULL && !contains(stepca_error_message(e), "00000"));
  stepca_error_free(e);

  stepca_chain_free(chain);
  stepca_sign_options_free(o);
  stepca_free(csr);
  stepca_key_free(op);
  stepca_x5c_provisioner_free(p);
  stepca_credential_free(factory);
  stepca_chain_free(birth);
  stepca_external_key_free(key);
}

/* ------------------------------------------------------------------------------------ */
/* What step-ca would refuse is refused here, each with its own message.                  */

static const char *template_file(const char *name, const char *body) {
  static char path[4][600];
  static int next = 0;
  char *p = path[next++ % 4];
  snprintf(p, 600, "%s/%s", g_dir, name);
  h_write_file(p, body, strlen(body));
  return p;
}

static int64_t two_hours_ahead(void *ud) {
  (void)ud;
  return now_unix() + 2 * 3600;
}

static void test_refusals(const stepca_client *client) {
  struct {
    const char *file, *body, *says;
  } bad[] = {
      {"no-ds.tpl", "{\"subject\": {{ toJson .Subject }}, \"keyUsage\": [\"keyEncipherment\"], \"extKeyUsage\": [\"clientAuth\"]}",
       "keyUsage without digitalSignature"},
      {"no-client-auth.tpl",
       "{\"subject\": {{ toJson .Subject }}, \"keyUsage\": [\"digitalSignature\"], \"extKeyUsage\": [\"serverAuth\"]}",
       "extendedKeyUsage without clientAuth"},
      {"no-ku.tpl", "{\"subject\": {{ toJson .Subject }}, \"extKeyUsage\": [\"clientAuth\"]}", "no keyUsage extension"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char extra[800], q[700];
    snprintf(extra, sizeof extra, "--template %s", h_shquote(template_file(bad[i].file, bad[i].body), q, sizeof q));
    stepca_credential *factory = factory_in_memory("SN-BAD", NULL, NULL, extra);
    static int sentinel;
    stepca_x5c_provisioner *p = (stepca_x5c_provisioner *)(void *)&sentinel; /* cleared on entry */
    stepca_error *e = NULL;
    CHECK_STATUS(stepca_x5c_provisioner_new(g_prov, factory, &p, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
    CHECK_MSG(e != NULL && strncmp(stepca_error_message(e), "factory: the certificate ", 25) == 0 &&
                  contains(stepca_error_message(e), bad[i].says),
              e != NULL ? stepca_error_message(e) : bad[i].says);
    CHECK(p == NULL);
    stepca_error_free(e);
    stepca_credential_free(factory);
  }

  stepca_key *op = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &op, &e_));
  size_t len = 0;
  uint8_t *csr = h_csr(op, "refused.example.com", STEPCA_FORMAT_DER, &len);
  stepca_chain *out = NULL;
  stepca_error *e = NULL;

  /* Not valid yet at the client's time: the clock is named. */
  stepca_credential *future = factory_in_memory("SN-FUTURE", NULL, NULL, "--not-before 1h --not-after 24h");
  stepca_x5c_provisioner *p = provisioner_of(future);
  stepca_sign_options *o = x5c_options(p);
  CHECK_STATUS(stepca_sign_cert(client, csr, len, o, &out, &e), e, STEPCA_ERR_CLOCK);
  CHECK_MSG(e != NULL && strncmp(stepca_error_message(e), "factory: the certificate is not valid before", 44) == 0,
            stepca_error_message(e));
  CHECK(e != NULL && stepca_error_http_status(e) == 0);
  stepca_error_free(e);
  e = NULL;
  stepca_sign_options_free(o);
  stepca_x5c_provisioner_free(p);
  stepca_credential_free(future);

  /* Expired at the client's time (a client whose time source runs two hours ahead of a
   * birth certificate that ends in one): named `factory`, nothing sent. */
  stepca_credential *short_lived = factory_in_memory("SN-SHORT", NULL, NULL, "--not-after 1h");
  p = provisioner_of(short_lived);
  o = x5c_options(p);
  stepca_client *later = plain_client(two_hours_ahead, NULL);
  CHECK_STATUS(stepca_sign_cert(later, csr, len, o, &out, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
  CHECK_MSG(e != NULL && strncmp(stepca_error_message(e), "factory: the certificate expired at", 35) == 0,
            stepca_error_message(e));
  CHECK(e != NULL && stepca_error_http_status(e) == 0);
  stepca_error_free(e);
  e = NULL;
  stepca_client_free(later);

  /* A notAfter past the birth certificate's (step-ca would cap it): said before any
   * token is made or sent. The same certificate without it enrolls. */
  OK(stepca_sign_options_set_not_after(o, now_unix() + 2 * 3600, &e_));
  CHECK_STATUS(stepca_sign_cert(client, csr, len, o, &out, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
  CHECK_MSG(e != NULL && h_names(stepca_error_message(e), "not_after") &&
                contains(stepca_error_message(e), "factory certificate's notAfter"),
            stepca_error_message(e));
  CHECK_MSG(e != NULL && stepca_error_http_status(e) == 0, "nothing was sent");
  stepca_error_free(e);
  e = NULL;
  CHECK(out == NULL);
  OK(stepca_sign_options_set_not_after(o, now_unix() + 1800, &e_));
  OK(stepca_sign_cert(client, csr, len, o, &out, &e_));
  CHECK(out != NULL && ends_by(out, short_lived));
  stepca_chain_free(out);

  stepca_sign_options_free(o);
  stepca_x5c_provisioner_free(p);
  stepca_credential_free(short_lived);
  stepca_free(csr);
  stepca_key_free(op);
}

/* ------------------------------------------------------------------------------------ */
/* A device of another factory: its token verifies nowhere at the CA.                     */

static void test_other_factory(const stepca_client *client) {
  char crt[600], key[600], cmd[2048], q1[700], q2[700];
  snprintf(crt, sizeof crt, "%s/other_root.crt", g_dir);
  snprintf(key, sizeof key, "%s/other_root_key", g_dir);
  snprintf(cmd, sizeof cmd,
           "step certificate create 'Another Factory Root CA' %s %s --profile root-ca --no-password --insecure -f 2>&1",
           h_shquote(crt, q1, sizeof q1), h_shquote(key, q2, sizeof q2));
  int st = 0;
  char *log = h_run(cmd, &st);
  CHECK_MSG(st == 0, log);
  free(log);

  stepca_credential *factory = factory_in_memory("SN-INTRUDER", crt, key, NULL);
  stepca_x5c_provisioner *p = factory != NULL ? provisioner_of(factory) : NULL;
  stepca_key *op = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &op, &e_));
  size_t len = 0;
  uint8_t *csr = h_csr(op, "intruder.example.com", STEPCA_FORMAT_DER, &len);
  stepca_sign_options *o = x5c_options(p);
  stepca_chain *out = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_sign_cert(client, csr, len, o, &out, &e), e, STEPCA_ERR_CA_REJECTED);
  CHECK_MSG(e != NULL && stepca_error_http_status(e) == 401, stepca_error_message(e));
  const char *ca_msg = e != NULL ? stepca_error_ca_message(e) : NULL;
  CHECK_MSG(ca_msg != NULL && ca_msg[0] != '\0', stepca_error_message(e));
  /* step-ca's message is carried in the error's own message too. */
  CHECK_MSG(ca_msg != NULL && contains(stepca_error_message(e), ca_msg), stepca_error_message(e));
  printf("another factory's device, refused by step-ca: %s\n", stepca_error_message(e));
  CHECK(out == NULL);
  stepca_error_free(e);

  stepca_sign_options_free(o);
  stepca_free(csr);
  stepca_key_free(op);
  stepca_x5c_provisioner_free(p);
  stepca_credential_free(factory);
}

/* ------------------------------------------------------------------------------------ */
/* The CSR fingerprint a token provider is told, and tokens bound to a CSR.               */

struct told {
  int calls;
  stepca_token_purpose purpose;
  int has_fingerprint;
  char fingerprint[64];
  int64_t not_after;
  const char *bind_to; /* put this fingerprint in cnf; NULL: the one told */
};

/* Mints with the step CLI (the rig's JWK provisioner): a sign token bound with --cnf, or
 * a revoke token. */
static int cnf_provider(void *ud, const stepca_token_claims *c, stepca_token_sink *sink) {
  struct told *t = ud;
  t->calls++;
  t->purpose = c->purpose;
  t->has_fingerprint = c->csr_fingerprint != NULL;
  snprintf(t->fingerprint, sizeof t->fingerprint, "%s", c->csr_fingerprint != NULL ? c->csr_fingerprint : "");
  t->not_after = c->not_after;
  char cmd[4096], flags[256], q1[512], q2[512];
  if (c->purpose == STEPCA_TOKEN_REVOKE) {
    snprintf(flags, sizeof flags, "--revoke");
  } else {
    const char *fp = t->bind_to != NULL ? t->bind_to : c->csr_fingerprint;
    snprintf(flags, sizeof flags, "--cnf %s", fp != NULL ? fp : "missing");
  }
  size_t n = (size_t)snprintf(cmd, sizeof cmd, "STEP_TOKEN_FLAGS=%s scripts/mint-token.sh %s",
                              h_shquote(flags, q1, sizeof q1), h_shquote(c->subject, q2, sizeof q2));
  for (size_t i = 0; i < c->sans_len && n < sizeof cmd; i++) {
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s", h_shquote(c->sans[i], q2, sizeof q2));
  }
  int st = 0;
  char *tok = h_run(cmd, &st);
  if (tok == NULL || st != 0) {
    free(tok);
    stepca_token_sink_set_error(sink, "step ca token failed", NULL);
    return 1;
  }
  tok[strcspn(tok, "\r\n")] = '\0';
  stepca_status s = stepca_token_sink_set(sink, tok, strlen(tok), NULL);
  free(tok);
  return s == STEPCA_OK ? 0 : 1;
}

static void test_fingerprints_and_binding(const stepca_client *client) {
  stepca_key *k1 = NULL, *k2 = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &k1, &e_));
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &k2, &e_));
  size_t len1 = 0, len2 = 0, pem_len = 0;
  uint8_t *csr1 = h_csr(k1, "bound.example.com", STEPCA_FORMAT_DER, &len1);
  uint8_t *csr2 = h_csr(k2, "bound.example.com", STEPCA_FORMAT_DER, &len2);
  uint8_t *csr1_pem = h_csr(k1, "bound.example.com", STEPCA_FORMAT_PEM, &pem_len);
  char fp1[64], fp2[64];
  sha256_b64url(csr1, len1, fp1);
  sha256_b64url(csr2, len2, fp2);
  CHECK(strlen(fp1) == 43 && strlen(fp2) == 43 && strcmp(fp1, fp2) != 0);

  /* The provider is told csr1's fingerprint and the requested notAfter; a token bound to
   * it is accepted for csr1. */
  struct told t = {0};
  stepca_sign_options *o = NULL;
  OK(stepca_sign_options_new(&o, &e_));
  OK(stepca_sign_options_set_token_provider(o, cnf_provider, &t, &e_));
  int64_t not_after = now_unix() + 3600;
  OK(stepca_sign_options_set_not_after(o, not_after, &e_));
  stepca_chain *chain = NULL;
  OK(stepca_sign_cert(client, csr1, len1, o, &chain, &e_));
  CHECK(t.calls == 1 && t.purpose == STEPCA_TOKEN_SIGN && t.has_fingerprint);
  CHECK_MSG(strcmp(t.fingerprint, fp1) == 0, t.fingerprint);
  CHECK(t.not_after == not_after);

  /* A CSR given as PEM: the fingerprint is of its DER (decoded here by OpenSSL). */
  char fp_pem[64] = "";
  {
    BIO *bio = BIO_new_mem_buf(csr1_pem, (int)pem_len);
    X509_REQ *req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int n = req != NULL ? i2d_X509_REQ(req, &der) : -1;
    CHECK(n > 0);
    if (n > 0) {
      sha256_b64url(der, (size_t)n, fp_pem);
    }
    OPENSSL_free(der);
    X509_REQ_free(req);
    BIO_free(bio);
  }
  stepca_chain *from_pem = NULL;
  struct told tp = {0};
  stepca_sign_options *op = NULL;
  OK(stepca_sign_options_new(&op, &e_));
  OK(stepca_sign_options_set_token_provider(op, cnf_provider, &tp, &e_));
  OK(stepca_sign_cert(client, csr1_pem, pem_len, op, &from_pem, &e_));
  CHECK_MSG(strlen(fp_pem) == 43 && strcmp(tp.fingerprint, fp_pem) == 0, tp.fingerprint);
  CHECK(tp.not_after == 0);

  /* A token bound to csr1, offered with csr2: step-ca refuses it (403). The provider was
   * told csr2's fingerprint. */
  struct told t2 = {0};
  t2.bind_to = fp1;
  stepca_sign_options *o2 = NULL;
  OK(stepca_sign_options_new(&o2, &e_));
  OK(stepca_sign_options_set_token_provider(o2, cnf_provider, &t2, &e_));
  stepca_chain *out = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_sign_cert(client, csr2, len2, o2, &out, &e), e, STEPCA_ERR_CA_REJECTED);
  CHECK_MSG(e != NULL && stepca_error_http_status(e) == 403, stepca_error_message(e));
  CHECK_MSG(e != NULL && contains(stepca_error_ca_message(e), "fingerprint does not match"), stepca_error_message(e));
  CHECK(out == NULL && t2.calls == 1);
  CHECK_MSG(strcmp(t2.fingerprint, fp2) == 0, t2.fingerprint);
  printf("a token bound to another CSR, refused by step-ca: %s\n", stepca_error_message(e));
  stepca_error_free(e);

  /* A revoke token provider is told no fingerprint and no notAfter. */
  uint8_t *serial = NULL;
  size_t serial_len = 0;
  OK(stepca_chain_serial(chain, &serial, &serial_len, &e_));
  struct told tr = {0};
  stepca_revoke_options *ro = NULL;
  OK(stepca_revoke_options_new(&ro, &e_));
  OK(stepca_revoke_options_set_token_provider(ro, cnf_provider, &tr, &e_));
  OK(stepca_revoke(client, serial != NULL ? (const char *)serial : "0", ro, &e_));
  CHECK(tr.calls == 1 && tr.purpose == STEPCA_TOKEN_REVOKE && !tr.has_fingerprint && tr.not_after == 0);
  if (chain != NULL) {
    check_revoked(client, chain, k1);
  }

  stepca_revoke_options_free(ro);
  stepca_free(serial);
  stepca_sign_options_free(o2);
  stepca_sign_options_free(op);
  stepca_chain_free(from_pem);
  stepca_chain_free(chain);
  stepca_sign_options_free(o);
  stepca_free(csr1_pem);
  stepca_free(csr2);
  stepca_free(csr1);
  stepca_key_free(k2);
  stepca_key_free(k1);
}

/* ------------------------------------------------------------------------------------ */
/* Arguments.                                                                             */

static void test_arguments(void) {
  stepca_credential *factory = factory_in_memory("SN-ARGS", NULL, NULL, NULL);
  static int sentinel_storage;
  void *sentinel = &sentinel_storage;

  /* NULL arguments to every new function, each named; out-pointers cleared on entry. */
  stepca_x5c_provisioner *p = sentinel;
  NAMES(stepca_x5c_provisioner_new(NULL, factory, &p, &e_), STEPCA_ERR_NULL_ARGUMENT, "name");
  CHECK(p == NULL);
  p = sentinel;
  NAMES(stepca_x5c_provisioner_new(g_prov, NULL, &p, &e_), STEPCA_ERR_NULL_ARGUMENT, "factory");
  CHECK(p == NULL);
  NAMES(stepca_x5c_provisioner_new(g_prov, factory, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "provisioner_out");
  /* An empty name is refused (the message says what is wrong). */
  {
    stepca_error *e = NULL;
    p = sentinel;
    CHECK_STATUS(stepca_x5c_provisioner_new("", factory, &p, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
    CHECK_MSG(e != NULL && contains(stepca_error_message(e), "must not be empty"), stepca_error_message(e));
    CHECK(p == NULL);
    stepca_error_free(e);
  }
  NAMES(stepca_x5c_provisioner_set_lifetime(NULL, 60, &e_), STEPCA_ERR_NULL_ARGUMENT, "provisioner");
  stepca_x5c_provisioner_free(NULL);

  p = provisioner_of(factory);
  stepca_client_builder *b = NULL;
  OK(stepca_client_builder_new(h_env("STEPCA_URL"), &b, &e_));
  stepca_sign_options *so = NULL;
  OK(stepca_sign_options_new(&so, &e_));
  stepca_revoke_options *ro = NULL;
  OK(stepca_revoke_options_new(&ro, &e_));
  NAMES(stepca_client_builder_set_x5c_provisioner(NULL, p, &e_), STEPCA_ERR_NULL_ARGUMENT, "builder");
  NAMES(stepca_client_builder_set_x5c_provisioner(b, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "provisioner");
  NAMES(stepca_sign_options_set_x5c_provisioner(NULL, p, &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  NAMES(stepca_sign_options_set_x5c_provisioner(so, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "provisioner");
  NAMES(stepca_revoke_options_set_x5c_provisioner(NULL, p, &e_), STEPCA_ERR_NULL_ARGUMENT, "options");
  NAMES(stepca_revoke_options_set_x5c_provisioner(ro, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "provisioner");

  /* Lifetimes: 10 s to 1 h. */
  NAMES(stepca_x5c_provisioner_set_lifetime(p, 9, &e_), STEPCA_ERR_INVALID_ARGUMENT, "token_lifetime");
  NAMES(stepca_x5c_provisioner_set_lifetime(p, 3601, &e_), STEPCA_ERR_INVALID_ARGUMENT, "token_lifetime");
  NAMES(stepca_x5c_provisioner_set_lifetime(p, 0, &e_), STEPCA_ERR_INVALID_ARGUMENT, "token_lifetime");
  OK(stepca_x5c_provisioner_set_lifetime(p, 10, &e_));
  OK(stepca_x5c_provisioner_set_lifetime(p, 3600, &e_));

  /* Once given to options (or a builder, or revoke options) it is immutable. */
  OK(stepca_sign_options_set_x5c_provisioner(so, p, &e_));
  NAMES(stepca_x5c_provisioner_set_lifetime(p, 120, &e_), STEPCA_ERR_INVALID_ARGUMENT, "provisioner");
  stepca_x5c_provisioner *p2 = provisioner_of(factory);
  OK(stepca_client_builder_set_x5c_provisioner(b, p2, &e_));
  NAMES(stepca_x5c_provisioner_set_lifetime(p2, 120, &e_), STEPCA_ERR_INVALID_ARGUMENT, "provisioner");
  stepca_x5c_provisioner *p3 = provisioner_of(factory);
  OK(stepca_revoke_options_set_x5c_provisioner(ro, p3, &e_));
  NAMES(stepca_x5c_provisioner_set_lifetime(p3, 120, &e_), STEPCA_ERR_INVALID_ARGUMENT, "provisioner");

  stepca_x5c_provisioner_free(p3);
  stepca_x5c_provisioner_free(p2);
  stepca_revoke_options_free(ro);
  stepca_sign_options_free(so);
  stepca_client_builder_free(b);
  stepca_x5c_provisioner_free(p);
  stepca_credential_free(factory);
}

int main(void) {
  /* An own SoftHSM2 token, set up before anything loads the module. */
  g_dir = h_softhsm_token(TOKEN_LABEL, PIN);
  g_prov = h_env("STEPCA_X5C_PROVISIONER");

  stepca_client *client = plain_client(NULL, NULL);
  test_in_memory(client);
  test_callback_signer(client);
  if (h_softhsm_available()) test_pkcs11(client);
  test_refusals(client);
  test_other_factory(client);
  test_fingerprints_and_binding(client);
  test_arguments();
  stepca_client_free(client);
  h_rmtree(g_dir);
  free(g_dir);
  return h_finish();
}
