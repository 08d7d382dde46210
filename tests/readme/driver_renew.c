/* Runs the README's `renew` snippet (keep_renewed) once: enrolls KEY_FILE with the token
 * for a certificate of LIFETIME seconds, writes it to CERT_OUT, then keeps it renewed for
 * SECONDS:
 *   driver_renew MIN_RENEWALS CA_URL ROOT_FILE KEY_FILE TOKEN_FILE NAME CERT_OUT KEY_OUT
 *                SECONDS LIFETIME
 * Exits 0 when keep_renewed reported at least MIN_RENEWALS renewals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stepca.h"

int keep_renewed(const stepca_client *client, const stepca_credential *cred, const char *cert_path,
                 const char *key_path, unsigned seconds);

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
      (buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    perror(path);
    free(buf);
    if (f) fclose(f);
    return NULL;
  }
  fclose(f);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

int main(int argc, char **argv) {
  stepca_client_builder *b = NULL;
  stepca_client *client = NULL;
  stepca_key *key = NULL;
  stepca_csr_request *req = NULL;
  stepca_sign_options *opts = NULL;
  stepca_chain *chain = NULL;
  stepca_credential *cred = NULL;
  stepca_error *err = NULL;
  uint8_t *csr = NULL, *pem = NULL;
  size_t csr_len = 0, pem_len = 0, key_len = 0, token_len = 0;
  char *key_pem = NULL, *token = NULL;
  int got = -1, rc = 2;
  FILE *f;
  if (argc != 11) {
    fprintf(stderr, "usage: %s MIN_RENEWALS CA_URL ROOT_FILE KEY_FILE TOKEN_FILE NAME CERT_OUT KEY_OUT "
                    "SECONDS LIFETIME\n", argv[0]);
    return 2;
  }
  if ((key_pem = slurp(argv[4], &key_len)) == NULL || (token = slurp(argv[5], &token_len)) == NULL) {
    goto done;
  }
  token[strcspn(token, "\r\n")] = '\0';
  if (stepca_client_builder_new(argv[2], &b, &err) != STEPCA_OK ||
      stepca_client_builder_set_root_file(b, argv[3], &err) != STEPCA_OK ||
      stepca_client_builder_build(b, &client, &err) != STEPCA_OK ||
      stepca_key_load((const uint8_t *)key_pem, key_len, NULL, &key, &err) != STEPCA_OK ||
      stepca_csr_request_new(&req, &err) != STEPCA_OK ||
      stepca_csr_request_add_subject(req, "CN", argv[6], &err) != STEPCA_OK ||
      stepca_csr_request_add_san(req, STEPCA_SAN_DNS, argv[6], &err) != STEPCA_OK ||
      stepca_create_csr(key, req, STEPCA_FORMAT_DER, &csr, &csr_len, &err) != STEPCA_OK ||
      stepca_sign_options_new(&opts, &err) != STEPCA_OK ||
      stepca_sign_options_set_token(opts, token, &err) != STEPCA_OK ||
      stepca_sign_options_set_not_after(opts, (int64_t)time(NULL) + atoi(argv[10]), &err) != STEPCA_OK ||
      stepca_sign_cert(client, csr, csr_len, opts, &chain, &err) != STEPCA_OK ||
      stepca_chain_pem(chain, &pem, &pem_len, &err) != STEPCA_OK ||
      stepca_credential_new(chain, key, &cred, &err) != STEPCA_OK) {
    fprintf(stderr, "driver_renew: %s\n", stepca_error_message(err));
    goto done;
  }
  if ((f = fopen(argv[7], "wb")) == NULL || fwrite(pem, 1, pem_len, f) != pem_len || fclose(f) != 0) {
    perror(argv[7]);
    goto done;
  }
  got = keep_renewed(client, cred, argv[7], argv[8], (unsigned)atoi(argv[9]));
  rc = got >= atoi(argv[1]) ? 0 : 3;
  if (rc != 0) {
    fprintf(stderr, "driver_renew: keep_renewed returned %d, expected at least %s\n", got, argv[1]);
  }
done:
  stepca_error_free(err);
  stepca_credential_free(cred);
  stepca_free(pem);
  stepca_chain_free(chain);
  stepca_sign_options_free(opts);
  stepca_free(csr);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  stepca_client_free(client);
  stepca_client_builder_free(b);
  free(token);
  free(key_pem);
  return rc;
}
