/* Keys generated inside a SoftHSM2 token through the C API: CSR signed in the token and
 * checked by openssl, enrolled and renewed at a real step-ca (run under
 * scripts/with-ca.sh), and the token's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"

int main(void) {
  char *dir = h_softhsm_token("c-token", "4321");

  stepca_error *e = NULL;
  stepca_client *client = h_minting_client();

  stepca_external_key *key = NULL;
  CHECK_STATUS(stepca_pkcs11_key_generate(MODULE, "c-token", "4321", "dev-key", STEPCA_KEY_EC_P256, &key, &e), e, STEPCA_OK);
  uint8_t *spki = NULL;
  size_t csr_len = 0, spki_len = 0;
  uint8_t *csr = h_csr_external(key, "c-hsm.example.com", STEPCA_FORMAT_PEM, &csr_len);
  h_check_openssl_csr(dir, csr, csr_len);
  stepca_chain *chain = NULL, *renewed = NULL;
  CHECK_STATUS(stepca_sign_cert(client, csr, csr_len, NULL, &chain, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_renew_external(client, chain, key, &renewed, &e), e, STEPCA_OK);
  CHECK(renewed != NULL && stepca_chain_count(renewed) == 2);

  /* Opened again by label: the same public key. */
  stepca_external_key *again = NULL;
  uint8_t *spki2 = NULL;
  size_t spki2_len = 0;
  CHECK_STATUS(stepca_pkcs11_key_open(MODULE, "c-token", "4321", "dev-key", &again, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_external_key_public_key(key, &spki, &spki_len, &e), e, STEPCA_OK);
  CHECK_STATUS(stepca_external_key_public_key(again, &spki2, &spki2_len, &e), e, STEPCA_OK);
  CHECK(spki_len == spki2_len && spki_len > 0 && memcmp(spki, spki2, spki_len) == 0);

  /* Each failure has its own code and message. */
  stepca_external_key *bad = NULL;
  CHECK_STATUS(stepca_pkcs11_key_open(MODULE, "c-token", "0000", "dev-key", &bad, &e), e, STEPCA_ERR_KEY_PASSPHRASE);
  CHECK(e && strstr(stepca_error_message(e), "0000") == NULL);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_pkcs11_key_open(MODULE, "c-token", "4321", "missing", &bad, &e), e, STEPCA_ERR_KEY);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_pkcs11_key_open("/nonexistent/module.so", "c-token", "4321", "dev-key", &bad, &e), e,
               STEPCA_ERR_INVALID_ARGUMENT);
  CHECK(e && strncmp(stepca_error_message(e), "module:", 7) == 0);
  stepca_error_free(e);
  e = NULL;
  CHECK_STATUS(stepca_pkcs11_key_generate(MODULE, "c-token", "4321", "ed", STEPCA_KEY_ED25519, &bad, &e), e,
               STEPCA_ERR_INVALID_ARGUMENT);
  stepca_error_free(e);
  CHECK(bad == NULL);

  stepca_free(spki);
  stepca_free(spki2);
  stepca_external_key_free(again);
  stepca_chain_free(renewed);
  stepca_chain_free(chain);
  stepca_free(csr);
  stepca_external_key_free(key);
  stepca_client_free(client);
  h_rmtree(dir);
  free(dir);
  return h_finish();
}
