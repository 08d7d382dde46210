/* stepca_set_log_callback at a real step-ca (run under scripts/with-ca.sh): records of the
 * library (each request and its answer) and of rustls arrive with their level and target,
 * none holds the provisioner password or the token, a bad level is refused naming it, and
 * STEPCA_LOG_OFF or a NULL callback stops them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "stepca.h"

struct records {
  pthread_mutex_t mu;
  size_t n, above_max, http_sign, http_201, tls;
  char *all; /* every message, one per line, for the secret search */
  size_t all_len;
  stepca_log_level max;
};

static void on_log(void *user_data, stepca_log_level level, const char *target, const char *message) {
  struct records *r = user_data;
  pthread_mutex_lock(&r->mu);
  r->n++;
  if (level > r->max || level == STEPCA_LOG_OFF) r->above_max++;
  if (strcmp(target, "stepca::http") == 0) {
    if (strstr(message, "POST /1.0/sign") != NULL) r->http_sign++;
    if (strstr(message, "HTTP 201 after ") != NULL) r->http_201++;
  }
  if (strncmp(target, "rustls", 6) == 0) r->tls++;
  size_t len = strlen(message);
  char *grown = realloc(r->all, r->all_len + len + 2);
  if (grown != NULL) {
    memcpy(grown + r->all_len, message, len);
    grown[r->all_len + len] = '\n';
    grown[r->all_len + len + 1] = '\0';
    r->all = grown;
    r->all_len += len + 1;
  }
  pthread_mutex_unlock(&r->mu);
}

static void enroll(stepca_client *client, const char *cn) {
  stepca_key *key = NULL;
  stepca_csr_request *req = NULL;
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  stepca_chain *chain = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e_));
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", cn, &e_));
  OK(stepca_create_csr(key, req, STEPCA_FORMAT_DER, &csr, &csr_len, &e_));
  OK(stepca_sign_cert(client, csr, csr_len, NULL, &chain, &e_));
  CHECK(chain != NULL);
  stepca_chain_free(chain);
  stepca_free(csr);
  stepca_csr_request_free(req);
  stepca_key_free(key);
}

int main(void) {
  struct records r = {.max = STEPCA_LOG_DEBUG};
  pthread_mutex_init(&r.mu, NULL);
  stepca_client *client = h_minting_client();

  NAMES(stepca_set_log_callback(6, on_log, &r, &e_), STEPCA_ERR_INVALID_ARGUMENT, "max_level");
  OK(stepca_set_log_callback(STEPCA_LOG_DEBUG, on_log, &r, &e_));
  enroll(client, "log.c.example.com");
  pthread_mutex_lock(&r.mu);
  CHECK(r.n > 0);
  CHECK(r.above_max == 0);
  CHECK(r.http_sign >= 1);
  CHECK(r.http_201 >= 1);
  CHECK(r.tls >= 1);
  /* The provisioner password the client minted its token with. */
  size_t pw_len = 0;
  char *pw = h_read_file(h_env("STEPCA_PASSWORD_FILE"), &pw_len);
  while (pw != NULL && pw_len > 0 && (pw[pw_len - 1] == '\n' || pw[pw_len - 1] == '\r')) pw[--pw_len] = '\0';
  CHECK(pw != NULL && pw_len > 0);
  CHECK_MSG(r.all != NULL && pw != NULL && strstr(r.all, pw) == NULL, "the password is in a log record");
  /* A JWT starts "eyJ": no token, whole or redacted-away-but-partly-left, is in any record. */
  CHECK_MSG(r.all != NULL && strstr(r.all, "eyJ") == NULL, r.all);
  free(pw);
  size_t before = r.n;
  pthread_mutex_unlock(&r.mu);

  /* Off, then a NULL callback: nothing more arrives. */
  OK(stepca_set_log_callback(STEPCA_LOG_OFF, on_log, &r, &e_));
  enroll(client, "log-off.c.example.com");
  OK(stepca_set_log_callback(STEPCA_LOG_TRACE, NULL, NULL, &e_));
  enroll(client, "log-null.c.example.com");
  pthread_mutex_lock(&r.mu);
  CHECK(r.n == before);
  pthread_mutex_unlock(&r.mu);

  stepca_client_free(client);
  free(r.all);
  pthread_mutex_destroy(&r.mu);
  return h_finish();
}
