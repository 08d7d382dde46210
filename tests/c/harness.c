#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
