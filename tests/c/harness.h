/* A small test harness for the C tests: checks that count, helpers that run the real
 * tools (openssl, step), and a token provider that mints tokens with the step CLI. */
#ifndef STEPCA_TEST_HARNESS_H
#define STEPCA_TEST_HARNESS_H

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

#endif
