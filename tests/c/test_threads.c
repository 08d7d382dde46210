/* One client shared by 16 threads, 500 enrollments each, against a real step-ca, with
 * tokens minted in process. Every enrollment must succeed; ASan/LSan and valgrind runs of
 * the other tests cover memory, this one covers volume and sharing.
 * STEPCA_THREADS / STEPCA_PER_THREAD override the defaults. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

struct worker {
  stepca_client *client;
  stepca_key *key;
  int index, per_thread, ok, failed;
};

static void *run(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < w->per_thread; i++) {
    char cn[64];
    snprintf(cn, sizeof cn, "t%d-%d.example.com", w->index, i);
    stepca_csr_request *req = NULL;
    uint8_t *csr = NULL;
    size_t len = 0;
    stepca_chain *chain = NULL;
    stepca_error *e = NULL;
    if (stepca_csr_request_new(&req, &e) == STEPCA_OK &&
        stepca_csr_request_add_subject(req, "CN", cn, &e) == STEPCA_OK &&
        stepca_csr_request_add_san(req, STEPCA_SAN_DNS, cn, &e) == STEPCA_OK &&
        stepca_create_csr(w->key, req, STEPCA_FORMAT_DER, &csr, &len, &e) == STEPCA_OK &&
        stepca_sign_cert(w->client, csr, len, NULL, &chain, &e) == STEPCA_OK && stepca_chain_count(chain) == 2) {
      w->ok++;
    } else {
      w->failed++;
      fprintf(stderr, "thread %d enrollment %d: %s\n", w->index, i, e ? stepca_error_message(e) : "?");
    }
    stepca_error_free(e);
    stepca_chain_free(chain);
    stepca_free(csr);
    stepca_csr_request_free(req);
  }
  return NULL;
}

int main(void) {
  int threads = getenv("STEPCA_THREADS") ? atoi(getenv("STEPCA_THREADS")) : 16;
  int per = getenv("STEPCA_PER_THREAD") ? atoi(getenv("STEPCA_PER_THREAD")) : 500;
  if (threads < 1 || threads > 256 || per < 1) {
    fprintf(stderr, "bad STEPCA_THREADS/STEPCA_PER_THREAD\n");
    return 2;
  }
  char *password = h_read_file(h_env("STEPCA_PASSWORD_FILE"), NULL);
  password[strcspn(password, "\r\n")] = '\0';
  stepca_error *e = NULL;
  stepca_client_builder *b = NULL;
  stepca_client *base = NULL, *client = NULL;
  stepca_jwk_provisioner *prov = NULL;
  stepca_key *key = NULL;
  CHECK_STATUS(stepca_client_builder_new(h_env("STEPCA_URL"), &b, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_root_file(b, h_env("STEPCA_ROOT"), &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_build(b, &base, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_jwk_provisioner_fetch(base, "admin", NULL, password, &prov, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_set_jwk_provisioner(b, prov, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_client_builder_build(b, &client, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e), e, STEPCA_OK);
  stepca_error_free(e);
  if (client == NULL || key == NULL) {
    return h_finish();
  }

  pthread_t *th = calloc((size_t)threads, sizeof *th);
  struct worker *w = calloc((size_t)threads, sizeof *w);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < threads; i++) {
    w[i] = (struct worker){client, key, i, per, 0, 0};
    CHECK(pthread_create(&th[i], NULL, run, &w[i]) == 0);
  }
  int ok = 0, failed = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    ok += w[i].ok;
    failed += w[i].failed;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("threads: %d x %d enrollments: %d ok, %d failed in %.1f s (%.0f/s)\n", threads, per, ok, failed, secs,
         (double)ok / secs);
  CHECK(ok == threads * per);
  CHECK(failed == 0);
  free(th);
  free(w);
  stepca_key_free(key);
  stepca_jwk_provisioner_free(prov);
  stepca_client_free(client);
  stepca_client_free(base);
  stepca_client_builder_free(b);
  free(password);
  return h_finish();
}
