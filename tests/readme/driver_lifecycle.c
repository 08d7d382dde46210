/* Runs the README's `lifecycle` snippet (device_lifecycle) once:
 *   driver_lifecycle EXPECTED_RC CA_URL FINGERPRINT ROOT_OUT PROVISIONER PASSWORD_FILE NAME
 * Exits 0 when the function returned EXPECTED_RC (0, a STEPCA_ERR_* code, or -1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int device_lifecycle(const char *ca_url, const char *fingerprint, const char *root_out,
                     const char *provisioner, const char *password, const char *name);

int main(int argc, char **argv) {
  char password[256] = "";
  FILE *f;
  int want, got;
  if (argc != 8) {
    fprintf(stderr, "usage: %s EXPECTED_RC CA_URL FINGERPRINT ROOT_OUT PROVISIONER PASSWORD_FILE NAME\n",
            argv[0]);
    return 2;
  }
  if ((f = fopen(argv[6], "r")) == NULL || fgets(password, sizeof password, f) == NULL) {
    perror(argv[6]);
    if (f) fclose(f);
    return 2;
  }
  fclose(f);
  password[strcspn(password, "\r\n")] = '\0';
  want = atoi(argv[1]);
  got = device_lifecycle(argv[2], argv[3], argv[4], argv[5], password, argv[7]);
  if (got != want) {
    fprintf(stderr, "driver_lifecycle: device_lifecycle returned %d, expected %d\n", got, want);
    return 3;
  }
  return 0;
}
