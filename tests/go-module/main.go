// Command consumer is a Go program outside the repository that uses the stepca package as
// a module would (scripts/test-go-module.sh builds it against an installed libstepca found
// through pkg-config only). With a CA described in the environment (STEPCA_URL,
// STEPCA_ROOT, STEPCA_PASSWORD_FILE) it enrolls a device with the admin JWK provisioner;
// without one it builds a CSR, which needs the library all the same.
package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	fmt.Println("libstepca", stepca.Version())
	key, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		return err
	}
	defer key.Close()
	const name = "go-module.example.com"
	csr, err := stepca.CreateCSR(key, &stepca.CSRRequest{
		Subject:  []stepca.Attribute{{Name: "CN", Value: name}},
		DNSNames: []string{name},
	}, stepca.DER)
	if err != nil {
		return err
	}
	if _, err := x509.ParseCertificateRequest(csr); err != nil {
		return err
	}
	url := os.Getenv("STEPCA_URL")
	if url == "" {
		fmt.Println("CSR built; no STEPCA_URL, so no enrollment")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := stepca.NewClientContext(ctx, url, stepca.WithRootFile(os.Getenv("STEPCA_ROOT")))
	if err != nil {
		return err
	}
	defer client.Close()
	password, err := stepca.ReadPasswordFile(os.Getenv("STEPCA_PASSWORD_FILE"))
	if err != nil {
		return err
	}
	prov, err := stepca.FetchJWKProvisionerContext(ctx, client, "admin", "", password)
	if err != nil {
		return err
	}
	defer prov.Close()
	minting, err := stepca.NewClientContext(ctx, url, stepca.WithRootFile(os.Getenv("STEPCA_ROOT")),
		stepca.WithJWKProvisioner(prov))
	if err != nil {
		return err
	}
	defer minting.Close()
	chain, err := minting.SignContext(ctx, csr)
	if err != nil {
		return err
	}
	if got := chain.Leaf().Subject.CommonName; got != name {
		return fmt.Errorf("enrolled %q, want %q", got, name)
	}
	fmt.Println("enrolled", chain.Leaf().Subject.CommonName, "serial", chain.Leaf().SerialNumber)
	return nil
}
