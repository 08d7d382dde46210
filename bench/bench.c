/* libstepca benchmarks through the C ABI (run by scripts/bench.sh).
 *
 *   bench csr KEYFILE ITERATIONS            CSR creation with a key loaded once: ns per CSR
 *   bench mint N SUBJECT OUTFILE            N sign tokens for SUBJECT, one per line
 *   bench enroll INFLIGHT TOKENFILE KEYFILE N enrollments (CSR + sign) with INFLIGHT threads
 *                                           sharing one client; tokens minted beforehand
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
  stepca_key *key;
  char **tokens;
  long next, total, failed;
  pthread_mutex_t mu;
};

static void *enroll_worker(void *arg) {
  struct job *j = arg;
  stepca_csr_request *req = NULL;
  stepca_error *e = NULL;
  if (stepca_csr_request_new(&req, &e) || stepca_csr_request_add_subject(req, "CN", "bench.example.com", &e) ||
      stepca_csr_request_add_san(req, STEPCA_SAN_DNS, "bench.example.com", &e))
    die("request", e);
  stepca_sign_options *o = NULL;
  stepca_sign_options_new(&o, NULL);
  for (;;) {
    pthread_mutex_lock(&j->mu);
    long i = j->next++;
    pthread_mutex_unlock(&j->mu);
    if (i >= j->total) break;
    uint8_t *csr = NULL;
    size_t len = 0;
    stepca_chain *chain = NULL;
    if (stepca_create_csr(j->key, req, STEPCA_FORMAT_DER, &csr, &len, &e) ||
        stepca_sign_options_set_token(o, j->tokens[i], &e) || stepca_sign_cert(j->client, csr, len, o, &chain, &e)) {
      fprintf(stderr, "bench: enrollment %ld: %s\n", i, e ? stepca_error_message(e) : "?");
      stepca_error_free(e);
      e = NULL;
      pthread_mutex_lock(&j->mu);
      j->failed++;
      pthread_mutex_unlock(&j->mu);
    }
    stepca_chain_free(chain);
    stepca_free(csr);
  }
  stepca_sign_options_free(o);
  stepca_csr_request_free(req);
  return NULL;
}

static int cmd_enroll(int inflight, const char *tokenfile, const char *keyfile, long n) {
  char *all = slurp(tokenfile, NULL);
  char **tokens = calloc((size_t)n, sizeof *tokens);
  long count = 0;
  for (char *line = strtok(all, "\n"); line && count < n; line = strtok(NULL, "\n")) tokens[count++] = line;
  if (count < n) { fprintf(stderr, "bench: only %ld tokens\n", count); return 1; }
  struct job j = {client_from_env(NULL), load_key(keyfile), tokens, 0, n, 0, PTHREAD_MUTEX_INITIALIZER};
  /* Warm up: one TLS connection per thread is part of steady state, not of the figure. */
  const char *pid = getenv("STEPCA_PID");
  double ca0 = pid ? proc_cpu(pid) : -1, cpu0 = self_cpu(), t0 = now();
  pthread_t *th = calloc((size_t)inflight, sizeof *th);
  for (int i = 0; i < inflight; i++) pthread_create(&th[i], NULL, enroll_worker, &j);
  for (int i = 0; i < inflight; i++) pthread_join(th[i], NULL);
  double dt = now() - t0, cpu = self_cpu() - cpu0, ca = pid ? proc_cpu(pid) - ca0 : -1;
  long ok = n - j.failed;
  printf("{\"op\":\"enroll\",\"client\":\"libstepca\",\"inflight\":%d,\"n\":%ld,\"failed\":%ld,\"per_s\":%.1f,"
         "\"client_cpu_us\":%.1f,\"ca_cpu_us\":%.1f}\n",
         inflight, n, j.failed, (double)ok / dt, cpu / (double)ok * 1e6, ca / (double)ok * 1e6);
  stepca_key_free(j.key);
  stepca_client_free(j.client);
  free(th);
  free(tokens);
  free(all);
  return j.failed != 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "csr") == 0) return cmd_csr(argv[2], atol(argv[3]));
  if (argc >= 5 && strcmp(argv[1], "mint") == 0) return cmd_mint(atol(argv[2]), argv[3], argv[4]);
  if (argc >= 6 && strcmp(argv[1], "enroll") == 0) return cmd_enroll(atoi(argv[2]), argv[3], argv[4], atol(argv[5]));
  fprintf(stderr, "usage: bench csr KEY N | bench mint N SUBJECT OUT | bench enroll INFLIGHT TOKENS KEY N\n");
  return 2;
}
