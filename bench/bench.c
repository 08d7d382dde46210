/* libstepca benchmarks through the C ABI (run by scripts/bench.sh).
 *
 *   bench csr KEYFILE ITERATIONS            CSR creation with a key loaded once: ns per CSR
 *   bench mint N SUBJECT OUTFILE            N sign tokens for SUBJECT, one per line
 *   bench enroll INFLIGHT TOKENFILE KEYFILE|new N
 *                                           N enrollments (stepca_enroll: CSR + sign) with INFLIGHT threads
 *                                           sharing one client; tokens minted beforehand; with
 *                                           "new", a new P-256 key for every enrollment
 *   bench renew mtls|token INFLIGHT TOKENFILE N
 *                                           each of INFLIGHT threads enrolls a new P-256 key
 *                                           (one token each), then renews, each renewal's
 *                                           certificate the next one's credential (as a
 *                                           device does), N renewals in all
 *
 * The CA comes from STEPCA_URL, STEPCA_ROOT, STEPCA_PASSWORD_FILE and STEPCA_PID (whose
 * CPU time is read from /proc to report step-ca's CPU per certificate). Output: one JSON
 * object per run on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "stepca.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double self_cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
         (double)r.ru_stime.tv_usec / 1e6;
}

/* utime + stime of a process, in seconds. */
static double proc_cpu(const char *pid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) { perror(path); exit(1); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
  fclose(f);
  buf[n] = '\0';
  if (len) *len = (size_t)n;
  return buf;
}

static void die(const char *what, stepca_error *e) {
  fprintf(stderr, "bench: %s: %s\n", what, e ? stepca_error_message(e) : "?");
  exit(1);
}

static stepca_key *load_key(const char *path) {
  size_t len;
  char *pem = slurp(path, &len);
  stepca_key *key = NULL;
  stepca_error *e = NULL;
  if (stepca_key_load((const uint8_t *)pem, len, NULL, &key, &e) != STEPCA_OK) die("key", e);
  free(pem);
  return key;
}

static int cmd_csr(const char *keyfile, long iters) {
  stepca_key *key = load_key(keyfile);
  stepca_csr_request *req = NULL;
  stepca_error *e = NULL;
  if (stepca_csr_request_new(&req, &e) || stepca_csr_request_add_subject(req, "CN", "bench.example.com", &e) ||
      stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "bench.example.com", &e))
    die("request", e);
  double t0 = now();
  for (long i = 0; i < iters; i++) {
    uint8_t *csr = NULL;
    size_t len = 0;
    if (stepca_create_csr(key, req, STEPCA_FORMAT_PEM, &csr, &len, &e) != STEPCA_OK) die("csr", e);
    stepca_free(csr);
  }
  double dt = now() - t0;
  printf("{\"op\":\"csr\",\"key\":\"%s\",\"iterations\":%ld,\"us_per_op\":%.2f}\n", keyfile, iters, dt / (double)iters * 1e6);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  return 0;
}

static stepca_client *client_from_env(stepca_jwk_provisioner *prov) {
  stepca_client_builder *b = NULL;
  stepca_client *c = NULL;
  stepca_error *e = NULL;
  if (stepca_client_builder_new(getenv("STEPCA_URL"), &b, &e) ||
      stepca_client_builder_set_root_file(b, getenv("STEPCA_ROOT"), &e) ||
      (prov && stepca_client_builder_set_jwk_provisioner(b, prov, &e)) || stepca_client_builder_build(b, &c, &e))
    die("client", e);
  stepca_client_builder_free(b);
  return c;
}

static int cmd_mint(long n, const char *subject, const char *out) {
  stepca_client *c = client_from_env(NULL);
  char *pw = slurp(getenv("STEPCA_PASSWORD_FILE"), NULL);
  pw[strcspn(pw, "\r\n")] = '\0';
  stepca_jwk_provisioner *prov = NULL;
  stepca_error *e = NULL;
  if (stepca_jwk_provisioner_fetch(c, "admin", NULL, pw, &prov, &e)) die("provisioner", e);
  if (stepca_jwk_provisioner_set_lifetime(prov, 3600, &e)) die("lifetime", e);
  char aud[512];
  snprintf(aud, sizeof aud, "%s/1.0/sign", getenv("STEPCA_URL"));
  FILE *f = fopen(out, "w");
  const char *sans[] = {subject};
  for (long i = 0; i < n; i++) {
    uint8_t *tok = NULL;
    size_t len = 0;
    if (stepca_jwk_provisioner_sign_token(prov, subject, sans, 1, aud, &tok, &len, &e)) die("mint", e);
    fprintf(f, "%s\n", (char *)tok);
    stepca_free(tok);
  }
  fclose(f);
  stepca_jwk_provisioner_free(prov);
  stepca_client_free(c);
  free(pw);
  return 0;
}

struct job {
  stepca_client *client;
  stepca_key *key; /* NULL: a new key per enrollment */
  char **tokens;
  long next, total, failed;
  pthread_mutex_t mu;
  stepca_renew_auth auth;
  pthread_barrier_t ready, go; /* renew: every device enrolled, then the clock starts */
};

static stepca_key *new_key(void) {
  stepca_key *k = NULL;
  stepca_error *e = NULL;
  if (stepca_key_generate(STEPCA_KEY_EC_P256, &k, &e)) die("generate", e);
  return k;
}

/* The next index to work on, or -1 when all are taken. */
static long take(struct job *j) {
  pthread_mutex_lock(&j->mu);
  long i = j->next < j->total ? j->next++ : -1;
  pthread_mutex_unlock(&j->mu);
  return i;
}

static void failed(struct job *j, const char *what, long i, stepca_error **e) {
  fprintf(stderr, "bench: %s %ld: %s\n", what, i, *e ? stepca_error_message(*e) : "?");
  stepca_error_free(*e);
  *e = NULL;
  pthread_mutex_lock(&j->mu);
  j->failed++;
  pthread_mutex_unlock(&j->mu);
}

static void *enroll_worker(void *arg) {
  struct job *j = arg;
  stepca_csr_request *req = NULL;
  stepca_error *e = NULL;
  if (stepca_csr_request_new(&req, &e) || stepca_csr_request_add_subject(req, "CN", "bench.example.com", &e) ||
      stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "bench.example.com", &e))
    die("request", e);
  stepca_sign_options *o = NULL;
  stepca_sign_options_new(&o, NULL);
  for (long i; (i = take(j)) >= 0;) {
    stepca_chain *chain = NULL;
    stepca_key *key = j->key ? j->key : new_key();
    /* The CSR built and exchanged in one call (stepca_enroll), as a C user enrolls. */
    if (stepca_sign_options_set_token(o, j->tokens[i], &e) || stepca_enroll(j->client, key, req, o, &chain, &e))
      failed(j, "enrollment", i, &e);
    if (key != j->key) stepca_key_free(key);
    stepca_chain_free(chain);
  }
  stepca_sign_options_free(o);
  stepca_csr_request_free(req);
  return NULL;
}

/* Renewal: a thread's own device (a new key, enrolled with line `slot` of the token file),
 * then renewals, each credential the previous renewal's certificate. */
struct renew_thread {
  struct job *job;
  long slot;
};

static void *renew_worker(void *arg) {
  struct renew_thread *t = arg;
  struct job *j = t->job;
  stepca_error *e = NULL;
  stepca_key *key = new_key();
  uint8_t *csr = NULL;
  size_t len = 0;
  stepca_csr_request *req = NULL;
  stepca_sign_options *o = NULL;
  stepca_chain *chain = NULL;
  stepca_credential *cred = NULL;
  if (stepca_csr_request_new(&req, &e) || stepca_csr_request_add_subject(req, "CN", "bench.example.com", &e) ||
      stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "bench.example.com", &e) ||
      stepca_create_csr(key, req, STEPCA_FORMAT_DER, &csr, &len, &e) || stepca_sign_options_new(&o, &e) ||
      stepca_sign_options_set_token(o, j->tokens[t->slot], &e) || stepca_sign_cert(j->client, csr, len, o, &chain, &e) ||
      stepca_credential_new(chain, key, &cred, &e))
    die("renewal set-up", e);
  pthread_barrier_wait(&j->ready);
  pthread_barrier_wait(&j->go);
  for (long i; (i = take(j)) >= 0;) {
    stepca_chain *next = NULL;
    stepca_credential *renewed = NULL;
    if (stepca_credential_renew(j->client, cred, j->auth, &next, &e) || stepca_credential_new(next, key, &renewed, &e)) {
      failed(j, "renewal", i, &e);
    } else {
      stepca_credential_free(cred);
      cred = renewed;
    }
    stepca_chain_free(next);
  }
  stepca_credential_free(cred);
  stepca_chain_free(chain);
  stepca_sign_options_free(o);
  stepca_csr_request_free(req);
  stepca_free(csr);
  stepca_key_free(key);
  return NULL;
}

static char **read_tokens(const char *tokenfile, long n, char **all) {
  *all = slurp(tokenfile, NULL);
  char **tokens = calloc((size_t)n, sizeof *tokens);
  long count = 0;
  for (char *line = strtok(*all, "\n"); line && count < n; line = strtok(NULL, "\n")) tokens[count++] = line;
  if (count < n) {
    fprintf(stderr, "bench: only %ld tokens\n", count);
    exit(1);
  }
  return tokens;
}

static int report(const char *op, const char *extra, int inflight, long n, struct job *j, double t0, double cpu0,
                  double ca0) {
  const char *pid = getenv("STEPCA_PID");
  double dt = now() - t0, cpu = self_cpu() - cpu0, ca = pid ? proc_cpu(pid) - ca0 : -1;
  long ok = n - j->failed;
  printf("{\"op\":\"%s\",\"client\":\"libstepca\",%s\"inflight\":%d,\"n\":%ld,\"failed\":%ld,\"per_s\":%.1f,"
         "\"client_cpu_us\":%.1f,\"ca_cpu_us\":%.1f}\n",
         op, extra, inflight, n, j->failed, (double)ok / dt, cpu / (double)ok * 1e6, ca / (double)ok * 1e6);
  return j->failed != 0;
}

static int cmd_renew(const char *auth, int inflight, const char *tokenfile, long n) {
  char *all = NULL;
  struct job j = {.client = client_from_env(NULL),
                  .tokens = read_tokens(tokenfile, inflight, &all),
                  .total = n,
                  .mu = PTHREAD_MUTEX_INITIALIZER,
                  .auth = strcmp(auth, "token") == 0 ? STEPCA_RENEW_TOKEN : STEPCA_RENEW_MTLS};
  pthread_barrier_init(&j.ready, NULL, (unsigned)inflight + 1);
  pthread_barrier_init(&j.go, NULL, (unsigned)inflight + 1);
  struct renew_thread *rt = calloc((size_t)inflight, sizeof *rt);
  pthread_t *th = calloc((size_t)inflight, sizeof *th);
  for (int i = 0; i < inflight; i++) {
    rt[i] = (struct renew_thread){&j, i};
    pthread_create(&th[i], NULL, renew_worker, &rt[i]);
  }
  /* Only renewals count: the clock starts once every device is enrolled. */
  pthread_barrier_wait(&j.ready);
  const char *pid = getenv("STEPCA_PID");
  double ca0 = pid ? proc_cpu(pid) : -1, cpu0 = self_cpu(), t0 = now();
  pthread_barrier_wait(&j.go);
  for (int i = 0; i < inflight; i++) pthread_join(th[i], NULL);
  char extra[64];
  snprintf(extra, sizeof extra, "\"auth\":\"%s\",", j.auth == STEPCA_RENEW_TOKEN ? "token" : "mtls");
  int rc = report("renew", extra, inflight, n, &j, t0, cpu0, ca0);
  pthread_barrier_destroy(&j.ready);
  pthread_barrier_destroy(&j.go);
  stepca_client_free(j.client);
  free(rt);
  free(th);
  free(j.tokens);
  free(all);
  return rc;
}

static int cmd_enroll(int inflight, const char *tokenfile, const char *keyfile, long n) {
  char *all = NULL;
  struct job j = {.client = client_from_env(NULL),
                  .key = strcmp(keyfile, "new") == 0 ? NULL : load_key(keyfile),
                  .tokens = read_tokens(tokenfile, n, &all),
                  .total = n,
                  .mu = PTHREAD_MUTEX_INITIALIZER};
  const char *pid = getenv("STEPCA_PID");
  double ca0 = pid ? proc_cpu(pid) : -1, cpu0 = self_cpu(), t0 = now();
  pthread_t *th = calloc((size_t)inflight, sizeof *th);
  for (int i = 0; i < inflight; i++) pthread_create(&th[i], NULL, enroll_worker, &j);
  for (int i = 0; i < inflight; i++) pthread_join(th[i], NULL);
  int rc = report("enroll", j.key ? "\"key\":\"reused\"," : "\"key\":\"new\",", inflight, n, &j, t0, cpu0, ca0);
  stepca_key_free(j.key);
  stepca_client_free(j.client);
  free(th);
  free(j.tokens);
  free(all);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "csr") == 0) return cmd_csr(argv[2], atol(argv[3]));
  if (argc >= 5 && strcmp(argv[1], "mint") == 0) return cmd_mint(atol(argv[2]), argv[3], argv[4]);
  if (argc >= 6 && strcmp(argv[1], "enroll") == 0) return cmd_enroll(atoi(argv[2]), argv[3], argv[4], atol(argv[5]));
  if (argc >= 6 && strcmp(argv[1], "renew") == 0) return cmd_renew(argv[2], atoi(argv[3]), argv[4], atol(argv[5]));
  fprintf(stderr, "usage: bench csr KEY N | bench mint N SUBJECT OUT | bench enroll INFLIGHT TOKENS KEY|new N |\n"
                  "       bench renew mtls|token INFLIGHT TOKENS N\n");
  return 2;
}
