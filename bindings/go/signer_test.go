package stepca_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// countingSigner is a crypto.Signer standing in for an HSM: libstepca never sees its key.
type countingSigner struct {
	crypto.Signer
	calls int
	fail  error
}

func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.calls++
	if s.fail != nil {
		return nil, s.fail
	}
	return s.Signer.Sign(r, digest, opts)
}

func TestCryptoSignerEnrollsAndRenews(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	for i, k := range []crypto.Signer{ec256, ec384, rk, ed} {
		s := &countingSigner{Signer: k}
		cn := fmt.Sprintf("go-held-%d.example.com", i)
		csr, err := stepca.CreateCSRWithSigner(s, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}, DNSNames: []string{cn}}, stepca.DER)
		if err != nil {
			t.Fatalf("%T: %v", k, err)
		}
		parsed, err := x509.ParseCertificateRequest(csr)
		if err != nil || parsed.CheckSignature() != nil {
			t.Fatalf("%T: CSR does not verify: %v", k, err)
		}
		chain, err := client.Sign(csr)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, chain, csr)
		cred, err := stepca.NewCredentialWithSigner(chain, s)
		if err != nil {
			t.Fatalf("%T: %v", k, err)
		}
		renewed, err := client.Renew(cred, stepca.RenewToken)
		cred.Close()
		if err != nil {
			t.Fatalf("%T: renew: %v", k, err)
		}
		if renewed.Leaf().SerialNumber.Cmp(chain.Leaf().SerialNumber) == 0 || s.calls != 2 {
			t.Fatalf("%T: renewal %v, %d signatures", k, renewed.Leaf().SerialNumber, s.calls)
		}
	}
}

func TestCryptoSignerErrorsComeBackUnchanged(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	errHSM := errors.New("HSM locked")
	_, err := stepca.CreateCSRWithSigner(&countingSigner{Signer: k, fail: errHSM}, nil, stepca.PEM)
	if !errors.Is(err, errHSM) || !errors.Is(err, stepca.ErrSigner) {
		t.Fatalf("want the signer's error and ErrSigner, got %v", err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := stepca.CreateCSRWithSigner(p224, nil, stepca.PEM); !errors.Is(err, stepca.ErrUnsupported) {
		t.Fatalf("want ErrUnsupported for P-224, got %v", err)
	}
}
