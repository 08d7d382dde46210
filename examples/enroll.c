/*
 * enroll: the Python plugin's quickstart, in C, on libstepca.
 *
 * Loads a device key, builds a CSR with a subject, SANs and extended key usages, gets the
 * one-time token from a file-backed token provider (<token-dir>/<CN>.txt, as the plugin's
 * quickstart reads otts/<device>.txt), enrolls at step-ca and writes the chain to a file.
 *
 *   enroll --ca-url https://127.0.0.1:9000 --root root_ca.crt --key device.key \
 *          --subject C=US --subject "O=Example Corp" --cn device-001.example.com \
 *          --dns device-001.example.com --dns device-001 --eku serverAuth --eku clientAuth \
 *          --token-dir otts --out device.pem
 *
 * Other options: --passphrase-file F (encrypted key), --ip/--email/--uri SAN, --token-file F
 * (one token for this call, overriding the provider), --not-after-seconds N, --der.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stepca.h"

#define MAX_ITEMS 32

struct san {
  stepca_san_type type;
  const char *value;
};

/* Reads a whole file; the caller frees the result. Returns NULL on failure. */
static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  while (buf != NULL) {
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (len < cap) {
      break;
    }
    cap *= 2;
    char *bigger = realloc(buf, cap + 1);
    if (bigger == NULL) {
      free(buf);
      buf = NULL;
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

/* Trims trailing whitespace (token and passphrase files end in a newline). */
static void chomp(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) {
    s[--n] = '\0';
  }
}

/* The token provider: reads <dir>/<subject>.txt, like the plugin quickstart's fetch_ott. */
static int file_token_provider(void *user_data, const stepca_token_claims *claims,
                               stepca_token_sink *sink) {
  const char *dir = user_data;
  const char *device = claims->subject[0] != '\0' ? claims->subject : "default";
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s.txt", dir, device) >= (int)sizeof path) {
    stepca_token_sink_set_error(sink, "token path too long", NULL);
    return 1;
  }
  char *token = read_file(path, NULL);
  if (token == NULL) {
    char msg[4200];
    snprintf(msg, sizeof msg, "cannot read %s: %s", path, strerror(errno));
    stepca_token_sink_set_error(sink, msg, NULL);
    return 2;
  }
  chomp(token);
  stepca_status st = stepca_token_sink_set(sink, token, strlen(token), NULL);
  memset(token, 0, strlen(token)); /* tokens are secrets */
  free(token);
  return st == STEPCA_OK ? 0 : 3;
}

static int fail(const char *what, stepca_status st, stepca_error *err) {
  fprintf(stderr, "enroll: %s failed: %s (%d)", what, stepca_status_str((int)st), (int)st);
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
          "usage: enroll --ca-url URL --root FILE --key FILE --cn NAME --out FILE\n"
          "              (--token-dir DIR | --token-file FILE) [--passphrase-file FILE]\n"
          "              [--subject K=V]... [--dns|--ip|--email|--uri VALUE]...\n"
          "              [--eku NAME|OID]... [--not-after-seconds N] [--der]\n");
}

int main(int argc, char **argv) {
  const char *ca_url = NULL, *root = NULL, *key_path = NULL, *cn = NULL, *out_path = NULL;
  const char *token_dir = NULL, *token_file = NULL, *pass_file = NULL;
  const char *subjects[MAX_ITEMS], *ekus[MAX_ITEMS];
  struct san sans[MAX_ITEMS];
  size_t nsubjects = 0, nekus = 0, nsans = 0;
  long not_after_seconds = 0;
  int der = 0;

  static const struct option opts[] = {
      {"ca-url", required_argument, NULL, 'u'},     {"root", required_argument, NULL, 'r'},
      {"key", required_argument, NULL, 'k'},        {"cn", required_argument, NULL, 'c'},
      {"out", required_argument, NULL, 'o'},        {"token-dir", required_argument, NULL, 'T'},
      {"token-file", required_argument, NULL, 't'}, {"passphrase-file", required_argument, NULL, 'p'},
      {"subject", required_argument, NULL, 's'},    {"dns", required_argument, NULL, 'd'},
      {"ip", required_argument, NULL, 'i'},         {"email", required_argument, NULL, 'e'},
      {"uri", required_argument, NULL, 'U'},        {"eku", required_argument, NULL, 'x'},
      {"not-after-seconds", required_argument, NULL, 'n'},
      {"der", no_argument, NULL, 'D'},              {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if ((c == 's' && nsubjects == MAX_ITEMS) || (c == 'x' && nekus == MAX_ITEMS) ||
        (strchr("dieU", c) != NULL && nsans == MAX_ITEMS)) {
      fprintf(stderr, "enroll: too many values for --%s\n", argv[optind - 2] + 2);
      return 2;
    }
    switch (c) {
    case 'u': ca_url = optarg; break;
    case 'r': root = optarg; break;
    case 'k': key_path = optarg; break;
    case 'c': cn = optarg; break;
    case 'o': out_path = optarg; break;
    case 'T': token_dir = optarg; break;
    case 't': token_file = optarg; break;
    case 'p': pass_file = optarg; break;
    case 's': subjects[nsubjects++] = optarg; break;
    case 'x': ekus[nekus++] = optarg; break;
    case 'd': sans[nsans++] = (struct san){STEPCA_SAN_DNS, optarg}; break;
    case 'i': sans[nsans++] = (struct san){STEPCA_SAN_IP, optarg}; break;
    case 'e': sans[nsans++] = (struct san){STEPCA_SAN_EMAIL, optarg}; break;
    case 'U': sans[nsans++] = (struct san){STEPCA_SAN_URI, optarg}; break;
    case 'n': not_after_seconds = strtol(optarg, NULL, 10); break;
    case 'D': der = 1; break;
    default: usage(); return 2;
    }
  }
  if (!ca_url || !root || !key_path || !cn || !out_path || (!token_dir && !token_file)) {
    usage();
    return 2;
  }
  if (stepca_version_number() != STEPCA_VERSION_NUMBER) {
    fprintf(stderr, "enroll: built against libstepca %d but running %s\n", STEPCA_VERSION_NUMBER,
            stepca_version());
    return 1;
  }

  int rc = 1;
  stepca_error *err = NULL;
  stepca_status st;
  stepca_key *key = NULL;
  stepca_csr_request *req = NULL;
  stepca_client_builder *builder = NULL;
  stepca_client *client = NULL;
  stepca_sign_options *sign_opts = NULL;
  stepca_chain *chain = NULL;
  uint8_t *cert = NULL;
  size_t cert_len = 0;
  char *key_data = NULL, *passphrase = NULL, *token = NULL;
  size_t key_len = 0;

  /* 1. The device key: PEM or DER, any of the usual encodings, optionally encrypted. */
  key_data = read_file(key_path, &key_len);
  if (key_data == NULL) {
    fprintf(stderr, "enroll: cannot read %s: %s\n", key_path, strerror(errno));
    goto out;
  }
  if (pass_file != NULL) {
    passphrase = read_file(pass_file, NULL);
    if (passphrase == NULL) {
      fprintf(stderr, "enroll: cannot read %s: %s\n", pass_file, strerror(errno));
      goto out;
    }
    chomp(passphrase);
  }
  if ((st = stepca_key_load((const uint8_t *)key_data, key_len, passphrase, &key, &err)) != STEPCA_OK) {
    rc = fail("loading the key", st, err);
    goto out;
  }

  /* 2. What the CSR says: subject attributes in order, then CN, SANs and EKUs. No JSON, no escaping. */
  if ((st = stepca_csr_request_new(&req, &err)) != STEPCA_OK) {
    rc = fail("creating the request", st, err);
    goto out;
  }
  for (size_t i = 0; i < nsubjects; i++) {
    char attr[256];
    const char *eq = strchr(subjects[i], '=');
    if (eq == NULL || (size_t)(eq - subjects[i]) >= sizeof attr) {
      fprintf(stderr, "enroll: --subject wants NAME=VALUE, got %s\n", subjects[i]);
      goto out;
    }
    memcpy(attr, subjects[i], (size_t)(eq - subjects[i]));
    attr[eq - subjects[i]] = '\0';
    if ((st = stepca_csr_request_add_subject(req, attr, eq + 1, &err)) != STEPCA_OK) {
      rc = fail("adding a subject attribute", st, err);
      goto out;
    }
  }
  if ((st = stepca_csr_request_add_subject(req, "CN", cn, &err)) != STEPCA_OK) {
    rc = fail("setting the CN", st, err);
    goto out;
  }
  for (size_t i = 0; i < nsans; i++) {
    if ((st = stepca_csr_request_add_san(req, sans[i].type, sans[i].value, &err)) != STEPCA_OK) {
      rc = fail("adding a SAN", st, err);
      goto out;
    }
  }
  for (size_t i = 0; i < nekus; i++) {
    if ((st = stepca_csr_request_add_ext_key_usage(req, ekus[i], &err)) != STEPCA_OK) {
      rc = fail("adding an extended key usage", st, err);
      goto out;
    }
  }
  /* 3. The client: https only, trusting only the CA's root, tokens from the provider. */
  if ((st = stepca_client_builder_new(ca_url, &builder, &err)) != STEPCA_OK ||
      (st = stepca_client_builder_set_root_file(builder, root, &err)) != STEPCA_OK ||
      (token_dir != NULL &&
       (st = stepca_client_builder_set_token_provider(builder, file_token_provider,
                                                      (void *)token_dir, &err)) != STEPCA_OK) ||
      (st = stepca_client_builder_build(builder, &client, &err)) != STEPCA_OK) {
    rc = fail("configuring the client", st, err);
    goto out;
  }

  /* 4. Enroll: the CSR is built and exchanged in one call (stepca_create_csr and
   * stepca_sign_cert are the two halves, for a CSR that must travel elsewhere). A token
   * file, when given, overrides the provider for this call. */
  if ((st = stepca_sign_options_new(&sign_opts, &err)) != STEPCA_OK) {
    rc = fail("creating sign options", st, err);
    goto out;
  }
  if (token_file != NULL) {
    token = read_file(token_file, NULL);
    if (token == NULL) {
      fprintf(stderr, "enroll: cannot read %s: %s\n", token_file, strerror(errno));
      goto out;
    }
    chomp(token);
    if ((st = stepca_sign_options_set_token(sign_opts, token, &err)) != STEPCA_OK) {
      rc = fail("setting the token", st, err);
      goto out;
    }
  }
  if (not_after_seconds > 0 &&
      (st = stepca_sign_options_set_not_after(sign_opts, (int64_t)time(NULL) + not_after_seconds,
                                              &err)) != STEPCA_OK) {
    rc = fail("setting the validity", st, err);
    goto out;
  }
  if ((st = stepca_enroll(client, key, req, sign_opts, &chain, &err)) != STEPCA_OK) {
    if (err != NULL && stepca_error_ca_message(err) != NULL) {
      fprintf(stderr, "enroll: step-ca says: %s\n", stepca_error_ca_message(err));
    }
    rc = fail("enrolling", st, err);
    goto out;
  }

  /* 5. Write the leaf and its intermediates (PEM), or the leaf alone (DER). */
  st = der ? stepca_chain_get(chain, 0, STEPCA_FORMAT_DER, &cert, &cert_len, &err)
           : stepca_chain_pem(chain, &cert, &cert_len, &err);
  if (st != STEPCA_OK) {
    rc = fail("encoding the certificate", st, err);
    goto out;
  }
  FILE *f = fopen(out_path, "wb");
  if (f == NULL || fwrite(cert, 1, cert_len, f) != cert_len || fclose(f) != 0) {
    fprintf(stderr, "enroll: cannot write %s\n", out_path);
    goto out;
  }
  printf("Certificate chain (%zu certificates) written to %s\n", stepca_chain_count(chain), out_path);
  rc = 0;

out:
  stepca_free(cert);
  stepca_chain_free(chain);
  stepca_sign_options_free(sign_opts);
  stepca_client_free(client);
  stepca_client_builder_free(builder);
  stepca_csr_request_free(req);
  stepca_key_free(key);
  if (passphrase != NULL) {
    memset(passphrase, 0, strlen(passphrase));
  }
  if (token != NULL) {
    memset(token, 0, strlen(token));
  }
  if (key_data != NULL) {
    memset(key_data, 0, key_len);
  }
  free(passphrase);
  free(token);
  free(key_data);
  return rc;
}
