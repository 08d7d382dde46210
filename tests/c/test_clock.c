/* Clocks, retries and bounds through the C API against a real step-ca (run under
 * scripts/with-ca.sh): a time source ahead of the CA, CA-time mode, a clock before the
 * root, the clock skew accessor, a one-token provider against a closed port, and RFC 5280
 * bounds. scripts/test.sh also runs it under libfaketime with STEPCA_EXPECT_AHEAD set to
 * the offset faketime applies, so the system-clock cases see a wrong clock too. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *ca_url, *ca_root;
static char *password;
static long expect_ahead; /* how far faketime moved this process's clock, in seconds */

/* The time sources the tests give: seconds to add to the real time, or a fixed time. */
struct clock_spec {
  int64_t offset;
  int64_t fixed; /* used when non-zero */
};

static int64_t spec_now(void *user_data) {
  const struct clock_spec *c = user_data;
  /* The real time: this process's clock, less what faketime added. */
  return c->fixed ? c->fixed : (int64_t)time(NULL) - expect_ahead + c->offset;
}

static stepca_jwk_provisioner *admin_provisioner(void) {
  stepca_client_builder *b = NULL;
  stepca_client *base = NULL;
  stepca_jwk_provisioner *prov = NULL;
  OK(stepca_client_builder_new(ca_url, &b, &e_));
  OK(stepca_client_builder_set_root_file(b, ca_root, &e_));
  /* The base client only fetches the provisioner: the real time keeps it valid. */
  static struct clock_spec real = {0, 0};
  OK(stepca_client_builder_set_time_source(b, spec_now, &real, &e_));
  OK(stepca_client_builder_build(b, &base, &e_));
  OK(stepca_jwk_provisioner_fetch(base, "admin", NULL, password, &prov, &e_));
  stepca_client_free(base);
  stepca_client_builder_free(b);
  return prov;
}

static uint8_t *make_csr(const char *cn, size_t *len) {
  stepca_key *key = NULL;
  OK(stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e_));
  uint8_t *csr = h_csr(key, cn, STEPCA_FORMAT_DER, len);
  stepca_key_free(key);
  return csr;
}

/* Builds a minting client with an optional time source and CA-time mode, and signs a CSR.
 * Returns the status; *err receives the error (build or sign). */
static stepca_status enroll(const stepca_jwk_provisioner *prov, struct clock_spec *clock,
                            bool ca_time, stepca_error **err) {
  stepca_client_builder *b = NULL;
  stepca_client *client = NULL;
  stepca_chain *chain = NULL;
  OK(stepca_client_builder_new(ca_url, &b, &e_));
  OK(stepca_client_builder_set_root_file(b, ca_root, &e_));
  OK(stepca_client_builder_set_jwk_provisioner(b, prov, &e_));
  if (clock) OK(stepca_client_builder_set_time_source(b, spec_now, clock, &e_));
  OK(stepca_client_builder_set_ca_time(b, ca_time, &e_));
  stepca_status st = stepca_client_builder_build(b, &client, err);
  stepca_client_builder_free(b);
  if (st != STEPCA_OK) return st;
  size_t len = 0;
  uint8_t *csr = make_csr("clock.example", &len);
  st = stepca_sign_cert(client, csr, len, NULL, &chain, err);
  stepca_free(csr);
  stepca_chain_free(chain);
  stepca_client_free(client);
  return st;
}

static void expect_skew(stepca_error *e, long ahead) {
  int64_t skew = 0;
  CHECK(stepca_error_clock_skew(e, &skew));
  CHECK_MSG(skew >= ahead - 3 && skew <= ahead + 3, stepca_error_message(e));
  CHECK_MSG(strstr(stepca_error_message(e), "s ahead of the CA's") != NULL,
            stepca_error_message(e));
  CHECK(stepca_error_http_status(e) == 401);
}

static void test_clock_ahead_is_named_and_ca_time_survives_it(void) {
  stepca_jwk_provisioner *prov = admin_provisioner();
  long aheads[] = {600, 7200};
  for (size_t i = 0; i < 2; i++) {
    struct clock_spec clock = {aheads[i], 0};
    stepca_error *e = NULL;
    CHECK_STATUS(enroll(prov, &clock, false, &e), e, STEPCA_ERR_CA_REJECTED);
    if (e) expect_skew(e, aheads[i]);
    stepca_error_free(e);
    e = NULL;
    CHECK_STATUS(enroll(prov, &clock, true, &e), e, STEPCA_OK);
    stepca_error_free(e);
  }
  /* The system clock: right in a plain run, ahead by expect_ahead under faketime. */
  stepca_error *e = NULL;
  if (expect_ahead == 0) {
    CHECK_STATUS(enroll(prov, NULL, false, &e), e, STEPCA_OK);
  } else {
    CHECK_STATUS(enroll(prov, NULL, false, &e), e, STEPCA_ERR_CA_REJECTED);
    if (e) {
      expect_skew(e, expect_ahead);
      CHECK_MSG(strstr(stepca_error_message(e), "this device's clock is") != NULL,
                stepca_error_message(e));
    }
  }
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(enroll(prov, NULL, true, &e), e, STEPCA_OK);
  stepca_error_free(e);
  stepca_jwk_provisioner_free(prov);
}

static void test_clock_before_the_root_fails_closed(void) {
  stepca_jwk_provisioner *prov = admin_provisioner();
  struct clock_spec y2k = {0, 946684800};
  for (int ca_time = 0; ca_time < 2; ca_time++) {
    stepca_error *e = NULL;
    CHECK_STATUS(enroll(prov, &y2k, ca_time, &e), e, STEPCA_ERR_CLOCK);
    if (e) {
      const char *m = stepca_error_message(e);
      CHECK_MSG(strstr(m, "the time source says it is 2000-01-01T00:00:00Z") != NULL, m);
      CHECK_MSG(strstr(m, "the clock is wrong") != NULL, m);
      int64_t skew = 0;
      CHECK(!stepca_error_clock_skew(e, &skew)); /* no answer was had */
    }
    stepca_error_free(e);
  }
  /* The right time from a time source works whatever the system clock says. */
  struct clock_spec real = {0, 0};
  stepca_error *e = NULL;
  CHECK_STATUS(enroll(prov, &real, false, &e), e, STEPCA_OK);
  stepca_error_free(e);
  stepca_jwk_provisioner_free(prov);
}

/* Hands out one token; any later call fails. user_data counts the calls. */
static int one_token(void *user_data, const stepca_token_claims *claims, stepca_token_sink *sink) {
  (void)claims;
  int *calls = user_data;
  if ((*calls)++ > 0) {
    stepca_token_sink_set_error(sink, "no tokens left", NULL);
    return 1;
  }
  const char *t = "the.only.token";
  return stepca_token_sink_set(sink, t, strlen(t), NULL) == STEPCA_OK ? 0 : 1;
}

static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &n) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static void test_a_token_never_sent_is_kept_for_the_retry(void) {
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d", closed_port());
  int calls = 0;
  stepca_client_builder *b = NULL;
  stepca_client *client = NULL;
  OK(stepca_client_builder_new(url, &b, &e_));
  OK(stepca_client_builder_set_root_file(b, ca_root, &e_));
  OK(stepca_client_builder_set_token_provider(b, one_token, &calls, &e_));
  OK(stepca_client_builder_set_retries(b, 3, 10, 50, &e_));
  OK(stepca_client_builder_build(b, &client, &e_));
  size_t len = 0;
  uint8_t *csr = make_csr("retry.example", &len);
  stepca_chain *chain = NULL;
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_sign_cert(client, csr, len, NULL, &chain, &e), e, STEPCA_ERR_TRANSPORT);
  CHECK_MSG(e && strstr(stepca_error_message(e), "refused") != NULL,
            e ? stepca_error_message(e) : "");
  CHECK(calls == 1);
  CHECK(chain == NULL);
  stepca_error_free(e);
  stepca_free(csr);
  stepca_client_free(client);
  stepca_client_builder_free(b);
}

static void test_rfc5280_bounds(void) {
  char *cn = malloc(10001);
  memset(cn, 'a', 10000);
  cn[10000] = '\0';
  stepca_csr_request *req = NULL;
  OK(stepca_csr_request_new(&req, &e_));
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_csr_request_add_subject(req, "CN", cn, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
  CHECK_MSG(e && strcmp(stepca_error_message(e),
                        "subject.CN: value is 10000 characters; RFC 5280 allows at most 64 "
                        "(ub-common-name)") == 0,
            e ? stepca_error_message(e) : "");
  stepca_error_free(e);
  e = NULL;
  cn[65] = '\0';
  CHECK_STATUS(stepca_csr_request_add_subject(req, "O", cn, &e), e, STEPCA_ERR_INVALID_ARGUMENT);
  CHECK_MSG(e && strstr(stepca_error_message(e), "subject.O:") != NULL, "names subject.O");
  stepca_error_free(e);
  cn[64] = '\0';
  OK(stepca_csr_request_add_subject(req, "CN", cn, &e_));
  stepca_csr_request_free(req);
  free(cn);
}

static void test_bad_arguments(void) {
  stepca_error *e = NULL;
  CHECK_STATUS(stepca_client_builder_set_time_source(NULL, spec_now, NULL, &e), e,
               STEPCA_ERR_NULL_ARGUMENT);
  CHECK(e && strncmp(stepca_error_message(e), "builder:", 8) == 0);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_client_builder_set_ca_time(NULL, true, &e), e, STEPCA_ERR_NULL_ARGUMENT);
  stepca_error_free(e);
  int64_t skew = 42;
  CHECK(!stepca_error_clock_skew(NULL, &skew) && skew == 42);
  CHECK(!stepca_error_clock_skew(NULL, NULL));
  CHECK(strcmp(stepca_status_str(STEPCA_ERR_CLOCK), "the clock is wrong") == 0);
}

int main(void) {
  ca_url = h_env("STEPCA_URL");
  ca_root = h_env("STEPCA_ROOT");
  const char *ahead = getenv("STEPCA_EXPECT_AHEAD");
  expect_ahead = ahead ? strtol(ahead, NULL, 10) : 0;
  size_t n = 0;
  password = h_read_file(h_env("STEPCA_PASSWORD_FILE"), &n);
  while (n > 0 && (password[n - 1] == '\n' || password[n - 1] == '\r')) password[--n] = '\0';

  test_bad_arguments();
  test_rfc5280_bounds();
  test_a_token_never_sent_is_kept_for_the_retry();
  test_clock_ahead_is_named_and_ca_time_survives_it();
  test_clock_before_the_root_fails_closed();
  free(password);
  return h_finish();
}
