/* A small test harness for the C tests: checks that count, helpers that run the real
 * tools (openssl, step, softhsm2-util), a token provider that mints tokens with the step
 * CLI, and the CSR and OpenSSL helpers more than one suite needs. */
#ifndef STEPCA_TEST_HARNESS_H
#define STEPCA_TEST_HARNESS_H

#include <openssl/types.h>
#include <stddef.h>

#include "stepca.h"

extern int h_passed, h_failed;

void h_check(int ok, const char *file, int line, const char *expr, const char *detail);

#define CHECK(cond) h_check(!!(cond), __FILE__, __LINE__, #cond, NULL)
#define CHECK_MSG(cond, detail) h_check(!!(cond), __FILE__, __LINE__, #cond, (detail))

/* Checks a call's status; on mismatch prints the error's message. Frees nothing. */
#define CHECK_STATUS(st, err, want)                                                          \
  h_check((st) == (want), __FILE__, __LINE__, #st " == " #want,                             \
          (err) != NULL ? stepca_error_message(err) : "(no error object)")

/* Runs `call` (which passes `&e_` as its error argument), expecting STEPCA_OK; frees the
 * error. */
#define OK(call)                                                                             \
  do {                                                                                       \
    stepca_error *e_ = NULL;                                                                 \
    stepca_status s_ = (call);                                                               \
    CHECK_STATUS(s_, e_, STEPCA_OK);                                                         \
    stepca_error_free(e_);                                                                   \
  } while (0)

/* A call expected to fail with `want`, its message starting with `name:` (the argument it
 * names); frees the error. */
#define NAMES(call, want, name)                                                              \
  do {                                                                                       \
    stepca_error *e_ = NULL;                                                                 \
    stepca_status s_ = (call);                                                               \
    CHECK_STATUS(s_, e_, want);                                                              \
    CHECK_MSG(e_ != NULL && h_names(stepca_error_message(e_), name),                         \
              e_ != NULL ? stepca_error_message(e_) : "(no error object)");                  \
    stepca_error_free(e_);                                                                   \
  } while (0)

/* Whether an error message starts with `name:`, i.e. names that argument. */
int h_names(const char *msg, const char *name);

/* Prints the closing "N passed, N failed" line; returns the exit code. */
int h_finish(void);

/* Reads a whole file (NUL-terminated; length in *len when not NULL). NULL on failure. */
char *h_read_file(const char *path, size_t *len);
/* Writes a buffer to a file; 0 on success. */
int h_write_file(const char *path, const void *data, size_t len);
/* Runs a shell command; returns its stdout (malloc'd) and its exit status in *status. */
char *h_run(const char *cmd, int *status);
/* A fresh temporary directory (malloc'd path). */
char *h_tempdir(void);
/* Removes a directory tree. */
void h_rmtree(const char *dir);
/* The environment variable, or aborts with a hint to use scripts/with-ca.sh. */
const char *h_env(const char *name);
/* Single-quotes a string for the shell into buf. */
const char *h_shquote(const char *s, char *buf, size_t cap);

/* Mints a sign token with the step CLI for subject and SANs (malloc'd, no newline). */
char *h_mint_token(const char *subject, const char *const *sans, size_t nsans);

/* A token provider that mints a token from the claims it is given; user_data is an int
 * counter incremented on each call (may be NULL). */
int h_minting_provider(void *user_data, const stepca_token_claims *claims, stepca_token_sink *sink);

/* A client for the CA under test (STEPCA_URL, STEPCA_ROOT) with h_minting_provider. */
stepca_client *h_minting_client(void);

/* A fresh temporary directory holding an own SoftHSM2 configuration with one token,
 * `label` with user PIN `pin`, and SOFTHSM2_CONF pointing at it (one check: the set-up
 * worked). Call it before anything loads the module, which reads the variable then. The
 * caller removes the directory (h_rmtree) and frees the path. */
char *h_softhsm_token(const char *label, const char *pin);
/* Whether SoftHSM2 tokens can be made here: not when STEPCA_TEST_NO_SOFTHSM is set (under
 * qemu-arm, where a 32-bit SoftHSM2 cannot be given a token; scripts/test-arm.sh). Then
 * h_softhsm_token only makes the directory, and the suites skip their PKCS#11 parts,
 * saying so. */
int h_softhsm_available(void);

/* A CSR for `cn` (as CN and as a DNS SAN) in `format`, signed by an in-memory key. */
uint8_t *h_csr(const stepca_key *key, const char *cn, stepca_format format, size_t *len);
/* The same, signed through an external key (callback or PKCS#11). */
uint8_t *h_csr_external(const stepca_external_key *key, const char *cn, stepca_format format, size_t *len);
/* The chain's leaf serial as a malloc'd string ("" when there is none). */
char *h_serial_of(const stepca_chain *chain);

/* Writes a PEM CSR into `dir` and checks that `openssl req -verify` accepts its signature. */
void h_check_openssl_csr(const char *dir, const uint8_t *csr, size_t len);
/* Whether `openssl verify` accepts the PEM chain file at `path` up to STEPCA_ROOT (the
 * file's own intermediates untrusted); openssl's output in *out (malloc'd). */
int h_openssl_verify(const char *path, char **out);

/* A new OpenSSL key: type "EC" (param: the curve), "RSA" (2048 bits) or "ED25519".
 * NULL on failure. */
EVP_PKEY *h_pkey_generate(const char *type, const char *param);
/* Signs the whole message with EVP_DigestSign (md NULL for Ed25519; pad 0 or an RSA
 * padding, PSS with salt = digest length); a malloc'd signature, or NULL. */
unsigned char *h_evp_sign(EVP_PKEY *pkey, const EVP_MD *md, int pad, const uint8_t *data, size_t len,
                          size_t *sig_len);
/* The chain's leaf as OpenSSL reads it (one check that it parses); the caller frees it. */
X509 *h_leaf_x509(const stepca_chain *chain);
/* Whether the leaf's subject CN is `cn`. */
int h_leaf_cn_is(const stepca_chain *chain, const char *cn);
/* Whether the leaf's SubjectPublicKeyInfo is, byte for byte, `spki`. */
int h_leaf_has_spki(const stepca_chain *chain, const uint8_t *spki, size_t spki_len);

#endif
