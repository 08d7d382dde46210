/* Runs the README's `signer` snippet (enroll_external) once, with a P-256 key read by
 * OpenSSL standing in for an HSM:
 *   driver_signer EXPECTED_RC CA_URL ROOT_FILE TOKEN_FILE KEY_FILE NAME CERT_OUT
 * Exits 0 when the function returned EXPECTED_RC (0, a STEPCA_ERR_* code, or -1). */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int enroll_external(const char *ca_url, const char *root_file, const char *token,
                    EVP_PKEY *pkey, const char *name, const char *cert_out);

int main(int argc, char **argv) {
  char token[8192] = "";
  EVP_PKEY *pkey = NULL;
  FILE *f;
  int want, got;
  if (argc != 8) {
    fprintf(stderr, "usage: %s EXPECTED_RC CA_URL ROOT_FILE TOKEN_FILE KEY_FILE NAME CERT_OUT\n", argv[0]);
    return 2;
  }
  if ((f = fopen(argv[4], "r")) == NULL || fgets(token, sizeof token, f) == NULL) {
    perror(argv[4]);
    if (f) fclose(f);
    return 2;
  }
  fclose(f);
  token[strcspn(token, "\r\n")] = '\0';
  if ((f = fopen(argv[5], "r")) == NULL || (pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
    fprintf(stderr, "driver_signer: cannot read the key %s\n", argv[5]);
    if (f) fclose(f);
    return 2;
  }
  fclose(f);
  want = atoi(argv[1]);
  got = enroll_external(argv[2], argv[3], token, pkey, argv[6], argv[7]);
  EVP_PKEY_free(pkey);
  if (got != want) {
    fprintf(stderr, "driver_signer: enroll_external returned %d, expected %d\n", got, want);
    return 3;
  }
  return 0;
}
