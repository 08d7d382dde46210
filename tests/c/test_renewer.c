/* The background renewer through the C API against a real step-ca (run under
 * scripts/with-ca.sh) with certificates of seconds: a key in memory renewed three times in a
 * row and rekeyed, each chain (and the new key, 0600) on disk before the callback hears of
 * it; a key in a SoftHSM2 token renewed over mutual TLS and rekeyed to a new key generated
 * in the same token by a callback; a failing key callback; stop from the callback and a
 * restart; and every argument check. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN_LABEL "renewer-token"
#define PIN "1357"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------ */
/* What the callback saw. It checks nothing itself (it runs on the renewer's thread); the  */
/* test reads the record under the lock.                                                 */

#define MAX_SEEN 16

struct events {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls, scheduled, renewed, rekeyed, failed, write_failed;
  char serials[MAX_SEEN][80];     /* of each renewed credential */
  int on_disk_mismatch;           /* renewals reported before their chain was on disk */
  const char *cert_path;          /* read on each renewal when set */
  stepca_status failure;          /* the last failure's code and message */
  char failure_message[256];
  const stepca_renewer *stop_self; /* when set, the callback stops the renewer */
};

static void events_init(struct events *e, const char *cert_path) {
  memset(e, 0, sizeof *e);
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
  e->cert_path = cert_path;
}

static void events_destroy(struct events *e) {
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
}

/* The serial of a chain, into buf ("" on failure). */
static void chain_serial(const stepca_chain *chain, char *buf, size_t cap) {
  uint8_t *s = NULL;
  size_t n = 0;
  buf[0] = '\0';
  if (stepca_chain_serial(chain, &s, &n, NULL) == STEPCA_OK) {
    snprintf(buf, cap, "%.*s", (int)n, (const char *)s);
  }
  stepca_free(s);
}

/* The serial of the chain in a PEM file, into buf ("" when unreadable). */
static void file_serial(const char *path, char *buf, size_t cap) {
  size_t len = 0;
  char *pem = h_read_file(path, &len);
  stepca_chain *chain = NULL;
  buf[0] = '\0';
  if (pem != NULL && stepca_chain_load((const uint8_t *)pem, len, &chain, NULL) == STEPCA_OK) {
    chain_serial(chain, buf, cap);
  }
  stepca_chain_free(chain);
  free(pem);
}

static void on_event(void *ud, const stepca_renewer_event *ev) {
  struct events *e = ud;
  pthread_mutex_lock(&e->mu);
  e->calls++;
  switch (ev->kind) {
  case STEPCA_RENEWER_SCHEDULED:
    e->scheduled++;
    break;
  case STEPCA_RENEWER_RENEWED: {
    stepca_chain *chain = NULL;
    char serial[80], disk[80];
    if (stepca_credential_chain(ev->credential, &chain, NULL) == STEPCA_OK) {
      chain_serial(chain, serial, sizeof serial);
    } else {
      serial[0] = '\0';
    }
    stepca_chain_free(chain);
    if (e->renewed < MAX_SEEN) {
      snprintf(e->serials[e->renewed], sizeof e->serials[0], "%s", serial);
    }
    if (e->cert_path != NULL) {
      file_serial(e->cert_path, disk, sizeof disk);
      e->on_disk_mismatch += strcmp(disk, serial) != 0;
    }
    e->renewed++;
    e->rekeyed += ev->rekeyed;
    break;
  }
  case STEPCA_RENEWER_FAILED:
  case STEPCA_RENEWER_WRITE_FAILED:
    if (ev->kind == STEPCA_RENEWER_FAILED) {
      e->failed++;
    } else {
      e->write_failed++;
    }
    e->failure = stepca_error_code(ev->error);
    snprintf(e->failure_message, sizeof e->failure_message, "%s", stepca_error_message(ev->error));
    break;
  default:
    break;
  }
  if (e->stop_self != NULL) {
    stepca_renewer_stop(e->stop_self);
  }
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

/* Waits until *counter reaches n, at most `seconds`; returns whether it did. */
static int wait_for(struct events *e, const int *counter, int n, int seconds) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += seconds;
  pthread_mutex_lock(&e->mu);
  int rc = 0;
  while (*counter < n && rc == 0) {
    rc = pthread_cond_timedwait(&e->cv, &e->mu, &until);
  }
  int ok = *counter >= n;
  pthread_mutex_unlock(&e->mu);
  return ok;
}

/* ------------------------------------------------------------------------------------ */
/* Enrolment with certificates of seconds.                                               */

static stepca_csr_request *request(const char *cn) {
  stepca_csr_request *req = NULL;
  OK(stepca_csr_request_new(&req, &e_));
  OK(stepca_csr_request_add_subject(req, "CN", cn, &e_));
  return req;
}

/* Signs `csr` (CN `cn`) for a certificate with `lifetime` seconds left when it arrives.
 * notAfter is absolute and step-ca's renewals keep the life the first certificate had
 * left, so time lost before step-ca signs (valgrind, a loaded machine) would shorten every
 * renewal in the test: the token is minted before notAfter is set, and a certificate that
 * still arrives with less than lifetime - 2 s left is signed again with the lost time
 * added (at most three tries). */
static stepca_chain *sign(stepca_client *client, const char *cn, uint8_t *csr, size_t csr_len, int lifetime) {
  stepca_chain *chain = NULL;
  int64_t lost = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    stepca_sign_options *opts = NULL;
    int64_t nb = 0, na = 0;
    char *token = h_mint_token(cn, NULL, 0);
    CHECK_MSG(token != NULL, "step ca token");
    OK(stepca_sign_options_new(&opts, &e_));
    OK(stepca_sign_options_set_token(opts, token != NULL ? token : "", &e_));
    OK(stepca_sign_options_set_not_after(opts, (int64_t)time(NULL) + lifetime + lost, &e_));
    stepca_chain_free(chain);
    chain = NULL;
    OK(stepca_sign_cert(client, csr, csr_len, opts, &chain, &e_));
    stepca_sign_options_free(opts);
    free(token);
    if (chain == NULL) {
      break;
    }
    OK(stepca_chain_validity(chain, &nb, &na, &e_));
    int64_t left = na - (int64_t)time(NULL);
    if (lifetime > 60 || left >= lifetime - 2) {
      break;
    }
    lost += lifetime - left;
  }
  stepca_free(csr);
  return chain;
}

/* A credential for a new P-256 key in memory living `lifetime` seconds. */
static stepca_credential *memory_credential(stepca_client *client, const char *cn, int lifetime) {
  stepca_key *key = NULL;
  stepca_csr_request *req = request(cn);
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  stepca_credential *cred = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e_));
  OK(stepca_create_csr(key, req, STEPCA_FORMAT_DER, &csr, &csr_len, &e_));
  stepca_chain *chain = sign(client, cn, csr, csr_len, lifetime);
  OK(stepca_credential_new(chain, key, &cred, &e_));
  stepca_chain_free(chain);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  return cred;
}

/* A credential for a key generated in the SoftHSM2 token as `label`. */
static stepca_credential *token_credential(stepca_client *client, const char *label, int lifetime) {
  const char *cn = "renewer-held.example.com";
  stepca_external_key *key = NULL;
  stepca_csr_request *req = request(cn);
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  stepca_credential *cred = NULL;
  OK(stepca_pkcs11_key_generate(MODULE, TOKEN_LABEL, PIN, label, STEPCA_KEY_EC_P256, &key, &e_));
  OK(stepca_create_csr_external(key, req, STEPCA_FORMAT_DER, &csr, &csr_len, &e_));
  stepca_chain *chain = sign(client, cn, csr, csr_len, lifetime);
  OK(stepca_credential_new_external(chain, key, &cred, &e_));
  stepca_chain_free(chain);
  stepca_csr_request_free(req);
  stepca_external_key_free(key);
  return cred;
}

/* ------------------------------------------------------------------------------------ */

static void test_memory_key_renewed_three_times_and_rekeyed(stepca_client *client) {
  char *dir = h_tempdir();
  char cert[512], key[512], cmd[2048], q1[600], q2[600];
  snprintf(cert, sizeof cert, "%s/device.crt", dir);
  snprintf(key, sizeof key, "%s/device.key", dir);
  stepca_credential *first = memory_credential(client, "renewer-c.example.com", 10);
  struct events ev;
  events_init(&ev, cert);
  stepca_renewer *r = NULL;
  OK(stepca_renewer_new(client, first, on_event, &ev, &r, &e_));
  OK(stepca_renewer_set_files(r, cert, key, &e_));
  OK(stepca_renewer_set_rekey(r, 3, NULL, NULL, &e_));
  OK(stepca_renewer_set_retry(r, 300, 2000, &e_));
  OK(stepca_renewer_start(r, &e_));
  CHECK(wait_for(&ev, &ev.renewed, 3, 90));

  double t = now_s();
  stepca_renewer_stop(r);
  CHECK_MSG(now_s() - t < 1.0, "stop took a second or more");
  pthread_mutex_lock(&ev.mu);
  int calls = ev.calls;
  CHECK(ev.renewed >= 3 && ev.rekeyed == 1 && ev.failed == 0 && ev.write_failed == 0);
  CHECK_MSG(ev.on_disk_mismatch == 0, "a renewal was reported before its chain was on disk");
  CHECK(ev.scheduled >= 3);
  CHECK(strcmp(ev.serials[0], ev.serials[1]) != 0 && strcmp(ev.serials[1], ev.serials[2]) != 0);
  pthread_mutex_unlock(&ev.mu);

  /* The current credential's key is the one on disk, 0600, and pairs with the chain there. */
  stepca_credential *now = NULL;
  stepca_key *k = NULL;
  uint8_t *pem = NULL;
  size_t pem_len = 0, file_len = 0;
  OK(stepca_renewer_credential(r, &now, &e_));
  OK(stepca_credential_key(now, &k, &e_));
  OK(stepca_key_to_pem(k, &pem, &pem_len, &e_));
  char *file = h_read_file(key, &file_len);
  CHECK(file != NULL && file_len == pem_len && pem != NULL && memcmp(file, pem, pem_len) == 0);
  struct stat st;
  CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
  snprintf(cmd, sizeof cmd,
           "openssl x509 -noout -pubkey -in %s > %s.a && openssl pkey -pubout -in %s > %s.b && cmp %s.a %s.b",
           h_shquote(cert, q1, sizeof q1), dir, h_shquote(key, q2, sizeof q2), dir, dir, dir);
  int status = 0;
  free(h_run(cmd, &status));
  CHECK_MSG(status == 0, "openssl: the key file is not the certificate file's key");
  snprintf(cmd, sizeof cmd, "openssl verify -CAfile %s -untrusted %s %s >/dev/null", h_env("STEPCA_ROOT"),
           h_shquote(cert, q1, sizeof q1), q1);
  free(h_run(cmd, &status));
  CHECK_MSG(status == 0, "openssl verify of the renewed chain");

  /* Nothing is reported after stop returned. */
  struct timespec pause = {0, 300 * 1000 * 1000};
  nanosleep(&pause, NULL);
  pthread_mutex_lock(&ev.mu);
  CHECK(ev.calls == calls);
  pthread_mutex_unlock(&ev.mu);

  free(file);
  stepca_free(pem);
  stepca_key_free(k);
  stepca_credential_free(now);
  stepca_renewer_free(r);
  stepca_credential_free(first);
  events_destroy(&ev);
  h_rmtree(dir);
  free(dir);
}

/* The new-key callback: a new key pair in the same token, labelled renewer-N. */
struct keygen {
  int made;
  int fail_with;
};

static int new_token_key(void *ud, stepca_external_key **key_out) {
  struct keygen *g = ud;
  if (g->fail_with != 0) {
    return g->fail_with;
  }
  char label[32];
  snprintf(label, sizeof label, "renewer-%d", ++g->made);
  return stepca_pkcs11_key_generate(MODULE, TOKEN_LABEL, PIN, label, STEPCA_KEY_EC_P256, key_out, NULL) ==
                 STEPCA_OK
             ? 0
             : 1;
}

static void test_token_key_renewed_and_rekeyed_in_the_token(stepca_client *client) {
  stepca_credential *first = token_credential(client, "renewer-0", 10);
  struct events ev;
  events_init(&ev, NULL);
  struct keygen gen = {0, 0};
  stepca_renewer *r = NULL;
  OK(stepca_renewer_new(client, first, on_event, &ev, &r, &e_));
  OK(stepca_renewer_set_rekey(r, 2, new_token_key, &gen, &e_));
  OK(stepca_renewer_set_retry(r, 300, 2000, &e_));
  OK(stepca_renewer_start(r, &e_));
  CHECK(wait_for(&ev, &ev.renewed, 2, 60));
  stepca_renewer_stop(r);
  pthread_mutex_lock(&ev.mu);
  CHECK(ev.renewed >= 2 && ev.rekeyed == 1 && ev.failed == 0);
  pthread_mutex_unlock(&ev.mu);
  CHECK(gen.made == 1);

  /* The current credential is held by the token's new key: no key in memory, and the
   * chain pairs with renewer-1 opened afresh from the token. */
  stepca_credential *now = NULL, *again = NULL;
  stepca_chain *chain = NULL;
  stepca_external_key *opened = NULL;
  stepca_key *k = NULL;
  OK(stepca_renewer_credential(r, &now, &e_));
  NAMES(stepca_credential_key(now, &k, &e_), STEPCA_ERR_INVALID_ARGUMENT, "credential");
  OK(stepca_credential_chain(now, &chain, &e_));
  OK(stepca_pkcs11_key_open(MODULE, TOKEN_LABEL, PIN, "renewer-1", &opened, &e_));
  OK(stepca_credential_new_external(chain, opened, &again, &e_));

  /* A key callback that fails is a failed renewal naming it, retried. */
  struct events ev2;
  events_init(&ev2, NULL);
  struct keygen broken = {0, 5};
  stepca_renewer *r2 = NULL;
  OK(stepca_renewer_new(client, now, on_event, &ev2, &r2, &e_));
  OK(stepca_renewer_set_rekey(r2, 1, new_token_key, &broken, &e_));
  /* Mutual TLS only: with STEPCA_RENEW_AUTO the retry after a failure is a token renewal,
   * which is never a rekey. */
  OK(stepca_renewer_set_auth(r2, STEPCA_RENEW_MTLS, &e_));
  OK(stepca_renewer_set_retry(r2, 200, 400, &e_));
  OK(stepca_renewer_start(r2, &e_));
  OK(stepca_renewer_renew_now(r2, &e_));
  CHECK(wait_for(&ev2, &ev2.failed, 2, 20));
  stepca_renewer_free(r2);
  CHECK(ev2.failure == STEPCA_ERR_SIGNER);
  CHECK_MSG(strstr(ev2.failure_message, "new_key: the callback returned 5") != NULL, ev2.failure_message);
  CHECK(ev2.renewed == 0);

  stepca_credential_free(again);
  stepca_external_key_free(opened);
  stepca_chain_free(chain);
  stepca_credential_free(now);
  stepca_renewer_free(r);
  stepca_credential_free(first);
  events_destroy(&ev);
  events_destroy(&ev2);
}

static void test_stop_from_the_callback_and_restart(stepca_client *client) {
  stepca_credential *cred = memory_credential(client, "renewer-stop.example.com", 3600);
  struct events ev;
  events_init(&ev, NULL);
  stepca_renewer *r = NULL;
  OK(stepca_renewer_new(client, cred, on_event, &ev, &r, &e_));
  ev.stop_self = r;
  OK(stepca_renewer_start(r, &e_));
  CHECK(wait_for(&ev, &ev.calls, 1, 10));
  OK(stepca_renewer_renew_now(r, &e_));
  struct timespec pause = {0, 300 * 1000 * 1000};
  nanosleep(&pause, NULL);
  pthread_mutex_lock(&ev.mu);
  CHECK_MSG(ev.calls == 1 && ev.renewed == 0, "an event after the callback stopped the renewer");
  pthread_mutex_unlock(&ev.mu);
  /* Stopped: settings may change, and it starts again from its current credential. */
  OK(stepca_renewer_set_schedule(r, STEPCA_SCHEDULE_PERIOD, 3600, &e_));
  OK(stepca_renewer_start(r, &e_));
  CHECK(wait_for(&ev, &ev.calls, 2, 10));
  double t = now_s();
  stepca_renewer_free(r);
  CHECK(now_s() - t < 1.0);
  stepca_credential_free(cred);
  events_destroy(&ev);
}

static void test_arguments(stepca_client *client) {
  stepca_credential *cred = memory_credential(client, "renewer-args.example.com", 3600);
  /* Held in the SoftHSM2 token; without one, the held-key checks are skipped. */
  stepca_credential *held = h_softhsm_available() ? token_credential(client, "renewer-args", 3600) : NULL;
  struct events ev;
  events_init(&ev, NULL);
  stepca_renewer *r = NULL;
  NAMES(stepca_renewer_new(NULL, cred, on_event, &ev, &r, &e_), STEPCA_ERR_NULL_ARGUMENT, "client");
  NAMES(stepca_renewer_new(client, NULL, on_event, &ev, &r, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  NAMES(stepca_renewer_new(client, cred, NULL, &ev, &r, &e_), STEPCA_ERR_NULL_ARGUMENT, "on_event");
  NAMES(stepca_renewer_new(client, cred, on_event, &ev, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "renewer_out");
  CHECK(r == NULL);

  OK(stepca_renewer_new(client, cred, on_event, &ev, &r, &e_));
  NAMES(stepca_renewer_set_schedule(r, 9, 10, &e_), STEPCA_ERR_INVALID_ARGUMENT, "schedule");
  NAMES(stepca_renewer_set_schedule(r, STEPCA_SCHEDULE_EXPIRES_IN, 0, &e_), STEPCA_ERR_INVALID_ARGUMENT,
        "seconds");
  NAMES(stepca_renewer_set_auth(r, 7, &e_), STEPCA_ERR_INVALID_ARGUMENT, "auth");
  OK(stepca_renewer_set_retry(r, 5000, 1000, &e_));
  NAMES(stepca_renewer_start(r, &e_), STEPCA_ERR_INVALID_ARGUMENT, "retry_max");
  OK(stepca_renewer_set_retry(r, 0, 1000, &e_));
  NAMES(stepca_renewer_start(r, &e_), STEPCA_ERR_INVALID_ARGUMENT, "retry_min");
  OK(stepca_renewer_set_retry(r, 1000, 1000, &e_));
  OK(stepca_renewer_set_files(r, "/tmp/never-written.crt", NULL, &e_));
  OK(stepca_renewer_set_rekey(r, 2, NULL, NULL, &e_));
  NAMES(stepca_renewer_start(r, &e_), STEPCA_ERR_INVALID_ARGUMENT, "key_file");
  OK(stepca_renewer_set_files(r, NULL, NULL, &e_));
  OK(stepca_renewer_set_rekey(r, 0, NULL, NULL, &e_));
  OK(stepca_renewer_start(r, &e_));
  NAMES(stepca_renewer_start(r, &e_), STEPCA_ERR_INVALID_ARGUMENT, "renewer");
  NAMES(stepca_renewer_set_files(r, NULL, NULL, &e_), STEPCA_ERR_INVALID_ARGUMENT, "renewer");
  NAMES(stepca_renewer_set_rekey(r, 1, NULL, NULL, &e_), STEPCA_ERR_INVALID_ARGUMENT, "renewer");
  OK(stepca_renewer_replace(r, cred, &e_));
  NAMES(stepca_renewer_replace(r, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  NAMES(stepca_renewer_renew_now(NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "renewer");
  stepca_credential *c = NULL;
  NAMES(stepca_renewer_credential(r, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential_out");
  NAMES(stepca_renewer_credential(NULL, &c, &e_), STEPCA_ERR_NULL_ARGUMENT, "renewer");
  CHECK(c == NULL);
  stepca_renewer_free(r);
  r = NULL;

  /* A held key is rekeyed only with a key callback. */
  if (held != NULL) {
    OK(stepca_renewer_new(client, held, on_event, &ev, &r, &e_));
    OK(stepca_renewer_set_rekey(r, 1, NULL, NULL, &e_));
    NAMES(stepca_renewer_start(r, &e_), STEPCA_ERR_INVALID_ARGUMENT, "new_key");
    stepca_renewer_free(r);
  }

  /* A clone is the same credential: it renews as the original does. */
  stepca_credential *clone = NULL;
  NAMES(stepca_credential_clone(NULL, &clone, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  NAMES(stepca_credential_clone(cred, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential_out");
  OK(stepca_credential_clone(held != NULL ? held : cred, &clone, &e_));
  stepca_chain *renewed = NULL;
  OK(stepca_credential_renew(client, clone, STEPCA_RENEW_MTLS, &renewed, &e_));
  CHECK(renewed != NULL);
  stepca_chain_free(renewed);
  stepca_credential_free(clone);

  stepca_key *k = NULL;
  NAMES(stepca_credential_key(NULL, &k, &e_), STEPCA_ERR_NULL_ARGUMENT, "credential");
  NAMES(stepca_credential_key(cred, NULL, &e_), STEPCA_ERR_NULL_ARGUMENT, "key_out");
  stepca_renewer_stop(NULL);
  stepca_renewer_free(NULL);
  stepca_credential_free(held);
  stepca_credential_free(cred);
  events_destroy(&ev);
}

int main(void) {
  /* An own SoftHSM2 token, set up before anything loads the module. */
  char *dir = h_softhsm_token(TOKEN_LABEL, PIN);

  stepca_client *client = h_minting_client();
  test_arguments(client);
  test_stop_from_the_callback_and_restart(client);
  test_memory_key_renewed_three_times_and_rekeyed(client);
  if (h_softhsm_available()) test_token_key_renewed_and_rekeyed_in_the_token(client);
  stepca_client_free(client);
  h_rmtree(dir);
  free(dir);
  return h_finish();
}
