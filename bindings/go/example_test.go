package stepca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// Build a CSR from Go structs.
func ExampleCreateCSR() {
	key, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		panic(err)
	}
	defer key.Close()
	der, err := stepca.CreateCSR(key, &stepca.CSRRequest{
		Subject:     []stepca.Attribute{{Name: "O", Value: "Example Corp"}, {Name: "CN", Value: "device-001"}},
		DNSNames:    []string{"device-001.example.com"},
		ExtKeyUsage: []string{"serverAuth", "clientAuth"},
	}, stepca.DER)
	if err != nil {
		panic(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	fmt.Println(csr.Subject, csr.DNSNames)
	// Output: CN=device-001,O=Example Corp [device-001.example.com]
}

// Enroll a device: the token comes from a provider, here the step CLI.
func ExampleClient_Sign() {
	client, err := stepca.NewClient(os.Getenv("STEPCA_URL"),
		stepca.WithRootFile(os.Getenv("STEPCA_ROOT")),
		stepca.WithTokenProvider(func(c stepca.Claims) (string, error) {
			return mint(c.Subject, c.SANs) // e.g. a lookup in your provisioning database
		}))
	if err != nil {
		panic(err)
	}
	defer client.Close()

	key, _ := stepca.GenerateKey(stepca.Ed25519)
	defer key.Close()
	csr, _ := stepca.CreateCSR(key, &stepca.CSRRequest{
		Subject:  []stepca.Attribute{{Name: "CN", Value: "example-device"}},
		DNSNames: []string{"example-device"},
	}, stepca.PEM)
	chain, err := client.Sign(csr)
	if err != nil {
		panic(err)
	}
	fmt.Println(chain.Leaf().Subject.CommonName, len(chain.Certificates), strings.Contains(string(chain.PEM()), "BEGIN CERTIFICATE"))
	// Output: example-device 2 true
}

// Renew over mutual TLS with a key held by a crypto.Signer (here a Go key standing in for
// an HSM, a TPM or a *HeldKey): the signer signs the CSR and the TLS 1.3 handshake.
func ExampleClient_Renew() {
	client, err := stepca.NewClient(os.Getenv("STEPCA_URL"),
		stepca.WithRootFile(os.Getenv("STEPCA_ROOT")),
		stepca.WithTokenProvider(func(c stepca.Claims) (string, error) { return mint(c.Subject, c.SANs) }))
	if err != nil {
		panic(err)
	}
	defer client.Close()

	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := stepca.CreateCSRWithSigner(signer, &stepca.CSRRequest{
		Subject:  []stepca.Attribute{{Name: "CN", Value: "held-device"}},
		DNSNames: []string{"held-device"},
	}, stepca.DER)
	if err != nil {
		panic(err)
	}
	chain, err := client.Sign(csr)
	if err != nil {
		panic(err)
	}
	cred, err := stepca.NewCredentialWithSigner(chain, signer)
	if err != nil {
		panic(err)
	}
	defer cred.Close()
	renewed, err := client.Renew(cred, stepca.RenewMTLS)
	if err != nil {
		panic(err)
	}
	next, err := stepca.NewCredentialWithSigner(renewed, signer) // for the next renewal
	if err != nil {
		panic(err)
	}
	defer next.Close()
	fmt.Println(renewed.Leaf().Subject.CommonName, renewed.Leaf().SerialNumber.Cmp(chain.Leaf().SerialNumber) != 0)
	// Output: held-device true
}
