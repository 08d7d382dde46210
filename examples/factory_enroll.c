/*
 * factory_enroll: a device's first enrollment with its factory identity, on libstepca.
 *
 * A device leaves the factory with an IDevID: a key pair made inside its secure element
 * (here a PKCS#11 token) and a birth certificate for it from the factory CA. step-ca's X5C
 * provisioner trusts that factory CA, so the device can trade a token signed by the
 * IDevID key (the birth certificate in the token's x5c header) for an operational
 * certificate. The IDevID private key never leaves the token: libstepca asks the token to
 * sign the CSR and the token, nothing more.
 *
 * At the factory, --csr: generate the IDevID key pair in the token and write its CSR
 * (signed in the token) for the factory CA to turn into the birth certificate.
 *
 *   factory_enroll --csr --module /usr/lib/softhsm/libsofthsm2.so --token device-001 \
 *                  --pin-file pin.txt --label idevid --serial SN-0001 --out idevid.csr
 *
 * On the device: open the IDevID key by PKCS#11 URI (as step's --kms takes it), make a new
 * operational key, and enroll it with the X5C provisioner.
 *
 *   factory_enroll --ca-url https://ca:9000 --root root_ca.crt --provisioner factory \
 *                  --key-uri 'pkcs11:token=device-001;object=idevid?module-path=...&pin-source=file:pin.txt' \
 *                  --birth idevid.crt --cn device-001.example.com --dns device-001.example.com \
 *                  --key-out device.key --out device.pem [--factory-spki-out idevid.spki.der]
 *
 * --factory-spki-out writes the public key of the IDevID key as opened from the token (DER
 * SubjectPublicKeyInfo), so a script can check it is the birth certificate's.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stepca.h"

#define MAX_DNS 16

/* Reads a whole file into a new NUL-terminated buffer; NULL on failure (errno set). */
static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  while (buf != NULL) {
    len += fread(buf + len, 1, cap - len, f);
    if (len < cap) {
      break;
    }
    cap *= 2;
    char *bigger = realloc(buf, cap + 1);
    if (bigger == NULL) {
      free(buf);
    }
    buf = bigger;
  }
  fclose(f);
  if (buf != NULL) {
    buf[len] = '\0';
    if (len_out != NULL) {
      *len_out = len;
    }
  }
  return buf;
}

/* Writes `data` to `path`, readable by the owner only when `private_file` (a key). */
static int write_file(const char *path, const void *data, size_t len, int private_file) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, private_file ? 0600 : 0644);
  if (fd < 0) {
    fprintf(stderr, "factory_enroll: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fprintf(stderr, "factory_enroll: cannot write %s: %s\n", path, strerror(errno));
      close(fd);
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  if (close(fd) != 0) {
    fprintf(stderr, "factory_enroll: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* Prints what failed with libstepca's message (and step-ca's answer, when there was one),
 * frees the error, and returns the exit code. */
static int fail(const char *what, stepca_status st, stepca_error *err) {
  fprintf(stderr, "factory_enroll: %s failed: %s (%d)", what, stepca_status_str((int)st), (int)st);
  if (err != NULL) {
    fprintf(stderr, ": %s", stepca_error_message(err));
    if (stepca_error_http_status(err) != 0) {
      fprintf(stderr, " [HTTP %d]", stepca_error_http_status(err));
    }
  }
  fputc('\n', stderr);
  stepca_error_free(err);
  return 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: factory_enroll --csr --module PATH --token LABEL --pin-file FILE --label LABEL\n"
          "                      --serial SERIAL --out FILE\n"
          "       factory_enroll --ca-url URL --root FILE --provisioner NAME --key-uri URI\n"
          "                      --birth FILE --cn NAME [--dns NAME]... --key-out FILE --out FILE\n"
          "                      [--factory-spki-out FILE]\n");
}

struct args {
  /* --csr */
  const char *module, *token, *pin_file, *label, *serial;
  /* enrollment */
  const char *ca_url, *root, *provisioner, *key_uri, *birth, *cn, *key_out, *spki_out;
  const char *dns[MAX_DNS];
  size_t ndns;
  /* both */
  const char *out;
};

/* At the factory: the IDevID key pair is generated in the token (not extractable) and its
 * CSR signed there. Subject: the device's serial number, as IEEE 802.1AR suggests. */
static int make_idevid_csr(const struct args *a) {
  int rc = 1;
  stepca_error *err = NULL;
  stepca_status st;
  stepca_external_key *key = NULL;
  stepca_csr_request *req = NULL;
  uint8_t *csr = NULL;
  size_t csr_len = 0;
  char *pin = read_file(a->pin_file, NULL);
  if (pin == NULL) {
    fprintf(stderr, "factory_enroll: cannot read %s: %s\n", a->pin_file, strerror(errno));
    return 1;
  }
  pin[strcspn(pin, "\r\n")] = '\0'; /* the first line, as pin-source reads it */

  if ((st = stepca_pkcs11_key_generate(a->module, a->token, pin, a->label, STEPCA_KEY_EC_P256, &key, &err)) !=
      STEPCA_OK) {
    rc = fail("generating the IDevID key in the token", st, err);
    goto out;
  }
  if ((st = stepca_csr_request_new(&req, &err)) != STEPCA_OK ||
      (st = stepca_csr_request_add_subject(req, "serialNumber", a->serial, &err)) != STEPCA_OK ||
      (st = stepca_csr_request_add_subject(req, "CN", a->serial, &err)) != STEPCA_OK) {
    rc = fail("describing the IDevID", st, err);
    goto out;
  }
  /* The token signs the CSR; libstepca checks the signature before handing it out. */
  if ((st = stepca_create_csr_external(key, req, STEPCA_FORMAT_PEM, &csr, &csr_len, &err)) != STEPCA_OK) {
    rc = fail("building the IDevID CSR", st, err);
    goto out;
  }
  if (write_file(a->out, csr, csr_len, 0) != 0) {
    goto out;
  }
  printf("IDevID key \"%s\" generated in token \"%s\"; its CSR is in %s\n", a->label, a->token, a->out);
  rc = 0;

out:
  stepca_free(csr);
  stepca_csr_request_free(req);
  stepca_external_key_free(key);
  memset(pin, 0, strlen(pin)); /* the PIN is a secret */
  free(pin);
  return rc;
}

/* On the device: the operational certificate, with a token signed by the IDevID key. */
static int enroll(const struct args *a) {
  int rc = 1;
  stepca_error *err = NULL;
  stepca_status st;
  stepca_external_key *idevid = NULL;
  stepca_chain *birth = NULL, *chain = NULL;
  stepca_credential *factory = NULL;
  stepca_x5c_provisioner *x5c = NULL;
  stepca_key *op_key = NULL;
  stepca_csr_request *req = NULL;
  stepca_client_builder *builder = NULL;
  stepca_client *client = NULL;
  stepca_sign_options *opts = NULL;
  uint8_t *spki = NULL, *key_pem = NULL, *csr = NULL, *chain_pem = NULL;
  size_t spki_len = 0, key_pem_len = 0, csr_len = 0, chain_pem_len = 0, birth_len = 0;
  char *birth_pem = NULL;

  /* 1. The IDevID key, opened in the token by URI: libstepca gets a handle, never the
   *    private key. */
  if ((st = stepca_pkcs11_key_open_uri(a->key_uri, &idevid, &err)) != STEPCA_OK) {
    rc = fail("opening the IDevID key", st, err);
    goto out;
  }
  if (a->spki_out != NULL) {
    if ((st = stepca_external_key_public_key(idevid, &spki, &spki_len, &err)) != STEPCA_OK) {
      rc = fail("reading the IDevID public key", st, err);
      goto out;
    }
    if (write_file(a->spki_out, spki, spki_len, 0) != 0) {
      goto out;
    }
  }

  /* 2. The factory credential: the birth certificate (and any factory intermediates)
   *    with the key in the token. libstepca refuses a key that is not the certificate's. */
  birth_pem = read_file(a->birth, &birth_len);
  if (birth_pem == NULL) {
    fprintf(stderr, "factory_enroll: cannot read %s: %s\n", a->birth, strerror(errno));
    goto out;
  }
  if ((st = stepca_chain_load((const uint8_t *)birth_pem, birth_len, &birth, &err)) != STEPCA_OK) {
    rc = fail("reading the birth certificate", st, err);
    goto out;
  }
  if ((st = stepca_credential_new_external(birth, idevid, &factory, &err)) != STEPCA_OK) {
    rc = fail("pairing the birth certificate with the IDevID key", st, err);
    goto out;
  }

  /* 3. The X5C provisioner: its tokens carry the birth certificate and are signed in the
   *    token. A birth certificate step-ca would refuse (no digitalSignature, no
   *    clientAuth) is refused here already. */
  if ((st = stepca_x5c_provisioner_new(a->provisioner, factory, &x5c, &err)) != STEPCA_OK) {
    rc = fail("setting up the X5C provisioner", st, err);
    goto out;
  }

  /* 4. A new operational key (the IDevID only vouches for the device, it is not used
   *    for TLS) and its CSR. */
  if ((st = stepca_key_generate(STEPCA_KEY_EC_P256, &op_key, &err)) != STEPCA_OK) {
    rc = fail("generating the operational key", st, err);
    goto out;
  }
  if ((st = stepca_csr_request_new(&req, &err)) != STEPCA_OK ||
      (st = stepca_csr_request_add_subject(req, "CN", a->cn, &err)) != STEPCA_OK) {
    rc = fail("describing the operational certificate", st, err);
    goto out;
  }
  for (size_t i = 0; i < a->ndns; i++) {
    if ((st = stepca_csr_request_add_san(req, STEPCA_SAN_DNS, a->dns[i], &err)) != STEPCA_OK) {
      rc = fail("adding a DNS name", st, err);
      goto out;
    }
  }
  if ((st = stepca_create_csr(op_key, req, STEPCA_FORMAT_DER, &csr, &csr_len, &err)) != STEPCA_OK) {
    rc = fail("building the CSR", st, err);
    goto out;
  }

  /* 5. Sign. The token is minted for this call and bound to this CSR (cnf); step-ca
   *    ends the certificate no later than the birth certificate. */
  if ((st = stepca_client_builder_new(a->ca_url, &builder, &err)) != STEPCA_OK ||
      (st = stepca_client_builder_set_root_file(builder, a->root, &err)) != STEPCA_OK ||
      (st = stepca_client_builder_build(builder, &client, &err)) != STEPCA_OK) {
    rc = fail("configuring the client", st, err);
    goto out;
  }
  if ((st = stepca_sign_options_new(&opts, &err)) != STEPCA_OK ||
      (st = stepca_sign_options_set_x5c_provisioner(opts, x5c, &err)) != STEPCA_OK) {
    rc = fail("setting the sign options", st, err);
    goto out;
  }
  if ((st = stepca_sign_cert(client, csr, csr_len, opts, &chain, &err)) != STEPCA_OK) {
    rc = fail("enrolling", st, err); /* the message carries step-ca's answer */
    goto out;
  }

  /* 6. The operational key (owner-only) and the chain, leaf first. */
  if ((st = stepca_key_to_pem(op_key, &key_pem, &key_pem_len, &err)) != STEPCA_OK ||
      (st = stepca_chain_pem(chain, &chain_pem, &chain_pem_len, &err)) != STEPCA_OK) {
    rc = fail("encoding the results", st, err);
    goto out;
  }
  if (write_file(a->key_out, key_pem, key_pem_len, 1) != 0 ||
      write_file(a->out, chain_pem, chain_pem_len, 0) != 0) {
    goto out;
  }
  printf("Operational certificate chain (%zu certificates) written to %s, its key to %s\n",
         stepca_chain_count(chain), a->out, a->key_out);
  rc = 0;

out:
  stepca_free(chain_pem);
  stepca_free(key_pem); /* stepca_free wipes it */
  stepca_free(csr);
  stepca_free(spki);
  stepca_chain_free(chain);
  stepca_sign_options_free(opts);
  stepca_client_free(client);
  stepca_client_builder_free(builder);
  stepca_csr_request_free(req);
  stepca_key_free(op_key);
  stepca_x5c_provisioner_free(x5c);
  stepca_credential_free(factory);
  stepca_chain_free(birth);
  stepca_external_key_free(idevid);
  free(birth_pem);
  return rc;
}

int main(int argc, char **argv) {
  struct args a;
  memset(&a, 0, sizeof a);
  int csr_mode = 0;
  static const struct option opts[] = {
      {"csr", no_argument, NULL, 'C'},
      {"module", required_argument, NULL, 'm'},
      {"token", required_argument, NULL, 't'},
      {"pin-file", required_argument, NULL, 'p'},
      {"label", required_argument, NULL, 'l'},
      {"serial", required_argument, NULL, 's'},
      {"ca-url", required_argument, NULL, 'u'},
      {"root", required_argument, NULL, 'r'},
      {"provisioner", required_argument, NULL, 'P'},
      {"key-uri", required_argument, NULL, 'k'},
      {"birth", required_argument, NULL, 'b'},
      {"cn", required_argument, NULL, 'c'},
      {"dns", required_argument, NULL, 'd'},
      {"key-out", required_argument, NULL, 'K'},
      {"factory-spki-out", required_argument, NULL, 'S'},
      {"out", required_argument, NULL, 'o'},
      {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'C': csr_mode = 1; break;
    case 'm': a.module = optarg; break;
    case 't': a.token = optarg; break;
    case 'p': a.pin_file = optarg; break;
    case 'l': a.label = optarg; break;
    case 's': a.serial = optarg; break;
    case 'u': a.ca_url = optarg; break;
    case 'r': a.root = optarg; break;
    case 'P': a.provisioner = optarg; break;
    case 'k': a.key_uri = optarg; break;
    case 'b': a.birth = optarg; break;
    case 'c': a.cn = optarg; break;
    case 'd':
      if (a.ndns == MAX_DNS) {
        fprintf(stderr, "factory_enroll: at most %d --dns\n", MAX_DNS);
        return 2;
      }
      a.dns[a.ndns++] = optarg;
      break;
    case 'K': a.key_out = optarg; break;
    case 'S': a.spki_out = optarg; break;
    case 'o': a.out = optarg; break;
    default: usage(); return 2;
    }
  }
  if (optind != argc || a.out == NULL ||
      (csr_mode && (!a.module || !a.token || !a.pin_file || !a.label || !a.serial)) ||
      (!csr_mode && (!a.ca_url || !a.root || !a.provisioner || !a.key_uri || !a.birth || !a.cn || !a.key_out))) {
    usage();
    return 2;
  }
  /* A header from one version with a library of another would misread structures. */
  if (stepca_version_number() != STEPCA_VERSION_NUMBER) {
    fprintf(stderr, "factory_enroll: built against libstepca %d but running %s\n", STEPCA_VERSION_NUMBER,
            stepca_version());
    return 1;
  }
  return csr_mode ? make_idevid_csr(&a) : enroll(&a);
}
