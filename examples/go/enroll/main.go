// Command enroll mirrors examples/enroll.c in Go: it loads a device key, builds a CSR with
// a subject, SANs and extended key usages, takes the one-time token from a file-backed
// provider (<token-dir>/<CN>.txt), enrolls at step-ca and writes the chain to a file.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var subjects, dns, ips, emails, uris, ekus list
	caURL := flag.String("ca-url", "", "step-ca URL (https://host:port)")
	root := flag.String("root", "", "root certificate (PEM) to trust")
	keyPath := flag.String("key", "", "device key (PEM or DER)")
	passFile := flag.String("passphrase-file", "", "passphrase of an encrypted key")
	cn := flag.String("cn", "", "subject common name")
	out := flag.String("out", "", "where to write the chain (PEM)")
	tokenDir := flag.String("token-dir", "", "directory holding <CN>.txt token files")
	tokenFile := flag.String("token-file", "", "token for this call (overrides the provider)")
	flag.Var(&subjects, "subject", "subject attribute NAME=VALUE (repeatable)")
	flag.Var(&dns, "dns", "DNS SAN (repeatable)")
	flag.Var(&ips, "ip", "IP SAN (repeatable)")
	flag.Var(&emails, "email", "email SAN (repeatable)")
	flag.Var(&uris, "uri", "URI SAN (repeatable)")
	flag.Var(&ekus, "eku", "extended key usage name or OID (repeatable)")
	flag.Parse()
	if *caURL == "" || *root == "" || *keyPath == "" || *cn == "" || *out == "" || (*tokenDir == "" && *tokenFile == "") {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*caURL, *root, *keyPath, *passFile, *cn, *out, *tokenDir, *tokenFile, subjects, dns, ips, emails, uris, ekus); err != nil {
		fmt.Fprintln(os.Stderr, "enroll:", err)
		os.Exit(1)
	}
}

func run(caURL, root, keyPath, passFile, cn, out, tokenDir, tokenFile string, subjects, dns, ips, emails, uris, ekus []string) error {
	data, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	var pass []byte
	if passFile != "" {
		// Trailing white space (the file's newline) is not part of it, as with step.
		if pass, err = stepca.ReadPasswordFile(passFile); err != nil {
			return err
		}
	}
	key, err := stepca.LoadKey(data, pass)
	if err != nil {
		return err
	}
	defer key.Close()

	req := &stepca.CSRRequest{DNSNames: dns, EmailAddresses: emails, ExtKeyUsage: ekus}
	for _, s := range subjects {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("--subject wants NAME=VALUE, got %q", s)
		}
		req.Subject = append(req.Subject, stepca.Attribute{Name: name, Value: value})
	}
	req.Subject = append(req.Subject, stepca.Attribute{Name: "CN", Value: cn})
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("--ip %q is not an IP address", s)
		}
		req.IPAddresses = append(req.IPAddresses, ip)
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		req.URIs = append(req.URIs, u)
	}
	csr, err := stepca.CreateCSR(key, req, stepca.PEM)
	if err != nil {
		return err
	}

	opts := []stepca.Option{stepca.WithRootFile(root)}
	if tokenDir != "" {
		opts = append(opts, stepca.WithTokenProvider(func(c stepca.Claims) (string, error) {
			device := c.Subject
			if device == "" {
				device = "default"
			}
			b, err := os.ReadFile(filepath.Join(tokenDir, device+".txt"))
			return strings.TrimSpace(string(b)), err
		}))
	}
	client, err := stepca.NewClient(caURL, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	var signOpts []stepca.SignOption
	if tokenFile != "" {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return err
		}
		signOpts = append(signOpts, stepca.WithToken(strings.TrimSpace(string(tok))))
	}
	chain, err := client.Sign(csr, signOpts...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, chain.PEM(), 0o644); err != nil {
		return err
	}
	fmt.Printf("Certificate chain (%d certificates) written to %s\n", len(chain.Certificates), out)
	return nil
}
