package stepca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// Keep a credential fresh in the background and serve it with crypto/tls: the listener,
// started once, hands each handshake the newest certificate. Here a renewal is asked for
// at once; left alone, the renewer renews about two thirds into each certificate's life.
func ExampleRenewer() {
	client, err := stepca.NewClient(os.Getenv("STEPCA_URL"),
		stepca.WithRootFile(os.Getenv("STEPCA_ROOT")),
		stepca.WithTokenProvider(func(c stepca.Claims) (string, error) { return mint(c.Subject, c.SANs) }))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // or a *HeldKey; or NewCredential with a *Key
	csr, _ := stepca.CreateCSRWithSigner(signer, &stepca.CSRRequest{
		Subject:  []stepca.Attribute{{Name: "CN", Value: "renewed-device"}},
		DNSNames: []string{"renewed-device"},
	}, stepca.DER)
	chain, err := client.Sign(csr)
	if err != nil {
		panic(err)
	}
	cred, err := stepca.NewCredentialWithSigner(chain, signer)
	if err != nil {
		panic(err)
	}
	defer cred.Close()

	renewed := make(chan *stepca.Credential, 1)
	r, err := stepca.NewRenewer(client, cred, stepca.WithEventFunc(func(e stepca.RenewerEvent) {
		switch e.Kind {
		case stepca.RenewerRenewed:
			renewed <- e.Credential
		case stepca.RenewerFailed:
			fmt.Println("renewal failed, retried at", e.At, ":", e.Err)
		}
	}))
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	if err := r.Start(); err != nil { // or r.Run(ctx) until ctx ends
		panic(err)
	}
	r.RenewNow()
	next := <-renewed
	defer next.Close()
	served, _ := r.GetCertificate(nil)
	fmt.Println(next.Chain().Leaf().SerialNumber.Cmp(chain.Leaf().SerialNumber) != 0,
		served.Leaf.SerialNumber.Cmp(next.Chain().Leaf().SerialNumber) == 0)
	// Output: true true
}
