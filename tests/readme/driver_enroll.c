/* Runs the README's `enroll` snippet (enroll_device) once:
 *   driver_enroll EXPECTED_RC CA_URL ROOT_FILE KEY_FILE TOKEN_FILE NAME CERT_OUT
 * Exits 0 when the function returned EXPECTED_RC (0, a STEPCA_ERR_* code, or -1). */
#include <stdio.h>
#include <stdlib.h>

int enroll_device(const char *ca_url, const char *root_file, const char *key_file,
                  const char *token_file, const char *name, const char *cert_out);

int main(int argc, char **argv) {
  int want, got;
  if (argc != 8) {
    fprintf(stderr, "usage: %s EXPECTED_RC CA_URL ROOT_FILE KEY_FILE TOKEN_FILE NAME CERT_OUT\n", argv[0]);
    return 2;
  }
  want = atoi(argv[1]);
  got = enroll_device(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7]);
  if (got != want) {
    fprintf(stderr, "driver_enroll: enroll_device returned %d, expected %d\n", got, want);
    return 3;
  }
  return 0;
}
