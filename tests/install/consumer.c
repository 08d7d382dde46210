/* A program built against an installed libstepca (pkg-config or CMake): checks the
 * header and library versions agree, builds a CSR, and asks the CA for its health when
 * STEPCA_URL and STEPCA_ROOT are set. Exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stepca.h>

int main(void) {
  if (stepca_version_number() != STEPCA_VERSION_NUMBER) {
    fprintf(stderr, "header %d, library %s\n", STEPCA_VERSION_NUMBER, stepca_version());
    return 1;
  }
  stepca_error *e = NULL;
  stepca_key *key = NULL;
  stepca_csr_request *req = NULL;
  uint8_t *csr = NULL;
  size_t len = 0;
  if (stepca_key_generate(STEPCA_KEY_EC_P256, &key, &e) || stepca_csr_request_new(&req, &e) ||
      stepca_csr_request_add_subject(req, "CN", "installed.example.com", &e) ||
      stepca_create_csr(key, req, STEPCA_FORMAT_PEM, &csr, &len, &e)) {
    fprintf(stderr, "consumer: %s\n", stepca_error_message(e));
    return 1;
  }
  int ok = strncmp((const char *)csr, "-----BEGIN CERTIFICATE REQUEST-----", 35) == 0;
  const char *url = getenv("STEPCA_URL"), *root = getenv("STEPCA_ROOT");
  if (ok && url && root) {
    stepca_client_builder *b = NULL;
    stepca_client *c = NULL;
    ok = stepca_client_builder_new(url, &b, &e) == STEPCA_OK && stepca_client_builder_set_root_file(b, root, &e) == STEPCA_OK &&
         stepca_client_builder_build(b, &c, &e) == STEPCA_OK && stepca_client_health(c, &e) == STEPCA_OK;
    stepca_client_free(c);
    stepca_client_builder_free(b);
  }
  printf("libstepca %s: %s\n", stepca_version(), ok ? "ok" : stepca_error_message(e));
  stepca_error_free(e);
  stepca_free(csr);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  return ok ? 0 : 1;
}
