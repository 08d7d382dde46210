package stepca_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// TLSCertificate: a key in memory becomes Go's own; a held key signs where it lives, also
// after the caller closed the HeldKey.
func TestCredentialTLSCertificate(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	chain := selfSigned(t, ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	key, err := stepca.LoadKey(pkcs8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	memory := credential(t, chain, key)
	tc, err := memory.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := tc.PrivateKey.(*ecdsa.PrivateKey); !ok || !k.Equal(ec) || tc.Leaf != chain.Leaf() || len(tc.Certificate) != 1 {
		t.Fatalf("memory key: %T", tc.PrivateKey)
	}
	signed := func(t *testing.T, s crypto.Signer) {
		t.Helper()
		digest := make([]byte, 32)
		sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(chain.Leaf().PublicKey.(*ecdsa.PublicKey), digest, sig) {
			t.Fatal("the signature does not verify")
		}
	}
	held := signerCredential(t, chain, ec)
	tc, err = held.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	signed(t, tc.PrivateKey.(crypto.Signer))
	held.Close()
	if _, err := held.TLSCertificate(); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	var nilCred *stepca.Credential
	if _, err := nilCred.TLSCertificate(); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("nil: %v", err)
	}

	softHSMToken(t)
	hk, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-tls-cert"), stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	hsmChain := selfSigned(t, hk)
	chain = hsmChain
	hsmCred := signerCredential(t, hsmChain, hk)
	hk.Close()
	if _, err := hk.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("HeldKey.Sign after Close: %v", err)
	}
	tc, err = hsmCred.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	signed(t, tc.PrivateKey.(crypto.Signer))
}
