package stepca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// recordingSigner is a crypto.Signer standing in for an HSM: it records the options of
// every signature it is asked for, and can fail or be slow on demand.
type recordingSigner struct {
	crypto.Signer
	delay time.Duration

	mu          sync.Mutex
	opts        []crypto.SignerOpts
	fail        error
	inFlight    int
	maxInFlight int
}

func (s *recordingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.mu.Lock()
	s.opts = append(s.opts, opts)
	fail := s.fail
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	time.Sleep(s.delay)
	if fail != nil {
		return nil, fail
	}
	return s.Signer.Sign(r, digest, opts)
}

// take returns the options seen since the last take.
func (s *recordingSigner) take() []crypto.SignerOpts {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	s.opts = nil
	return o
}

func (s *recordingSigner) failWith(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// sameOpts compares signer options: PSS by hash and salt length, others by hash.
func sameOpts(got, want crypto.SignerOpts) bool {
	gp, gok := got.(*rsa.PSSOptions)
	wp, wok := want.(*rsa.PSSOptions)
	if gok || wok {
		return gok && wok && gp.Hash == wp.Hash && gp.SaltLength == wp.SaltLength
	}
	return got.HashFunc() == want.HashFunc()
}

func describe(o crypto.SignerOpts) string {
	if p, ok := o.(*rsa.PSSOptions); ok {
		return fmt.Sprintf("PSS(%v, salt %d)", p.Hash, p.SaltLength)
	}
	return fmt.Sprintf("%v", o.HashFunc())
}

// expectOneSignature checks that exactly one signature was made since the last take, with
// want's options.
func expectOneSignature(t *testing.T, s *recordingSigner, what string, want crypto.SignerOpts) {
	t.Helper()
	got := s.take()
	if len(got) != 1 || !sameOpts(got[0], want) {
		var d []string
		for _, o := range got {
			d = append(d, describe(o))
		}
		t.Fatalf("%s: signatures %v, want exactly one %s", what, d, describe(want))
	}
}

func request(cn string) *stepca.CSRRequest {
	return &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}, DNSNames: []string{cn}}
}

// enrollSigner enrolls signer's key under cn with a CSR signer signs.
func enrollSigner(t *testing.T, c *stepca.Client, signer crypto.Signer, cn string) (*stepca.Chain, []byte) {
	t.Helper()
	csr, err := stepca.CreateCSRWithSigner(signer, request(cn), stepca.DER)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := c.Sign(csr)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, chain, csr)
	return chain, csr
}

func signerCredential(t *testing.T, chain *stepca.Chain, s crypto.Signer) *stepca.Credential {
	t.Helper()
	cred, err := stepca.NewCredentialWithSigner(chain, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cred.Close() })
	return cred
}

// renewedFrom checks that renewed is a new certificate for old's subject and key.
func renewedFrom(t *testing.T, renewed, old *stepca.Chain) {
	t.Helper()
	n, o := renewed.Leaf(), old.Leaf()
	if n.SerialNumber.Cmp(o.SerialNumber) == 0 || n.Subject.CommonName != o.Subject.CommonName ||
		!n.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(o.PublicKey) {
		t.Fatalf("renewal gave serial %v CN %q (was %v %q) or another key", n.SerialNumber, n.Subject.CommonName, o.SerialNumber, o.Subject.CommonName)
	}
}

// A held key for the whole life, for each kind of key a crypto.Signer can hold. Over mutual
// TLS the signer is asked once, for the handshake's scheme: RSA-PSS for RSA, which only a
// TLS 1.3 CertificateVerify asks for (CSRs and renew tokens are PKCS#1 v1.5).
func TestCryptoSignerCredentialWholeLife(t *testing.T) {
	pss256 := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	cases := []struct {
		name       string
		gen        func() crypto.Signer
		tls, token crypto.SignerOpts
	}{
		{"P-256", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }, crypto.SHA256, crypto.SHA256},
		{"P-384", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader); return k }, crypto.SHA384, crypto.SHA384},
		{"RSA-2048", func() crypto.Signer { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k }, pss256, crypto.SHA256},
		{"Ed25519", func() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }, crypto.Hash(0), crypto.Hash(0)},
	}
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cn := "go-cred-" + strings.ToLower(tc.name) + ".example.com"
			s := &recordingSigner{Signer: tc.gen()}
			chain, _ := enrollSigner(t, client, s, cn)
			expectOneSignature(t, s, "CSR", tc.token)
			cred := signerCredential(t, chain, s)
			if !bytes.Equal(cred.Chain().PEM(), chain.PEM()) {
				t.Fatal("the credential's chain differs")
			}

			renewed, err := client.Renew(cred, stepca.RenewMTLS)
			if err != nil {
				t.Fatalf("mTLS renew: %v", err)
			}
			renewedFrom(t, renewed, chain)
			expectOneSignature(t, s, "mTLS renew", tc.tls)

			renewed, err = client.Renew(cred, stepca.RenewToken)
			if err != nil {
				t.Fatalf("token renew: %v", err)
			}
			renewedFrom(t, renewed, chain)
			expectOneSignature(t, s, "token renew", tc.token)

			// A valid certificate renews over mutual TLS when left to choose.
			renewed, err = client.Renew(cred, stepca.RenewAuto)
			if err != nil {
				t.Fatalf("auto renew: %v", err)
			}
			renewedFrom(t, renewed, chain)
			expectOneSignature(t, s, "auto renew", tc.tls)

			// Rekey to a new key, held by a crypto.Signer too; the old key signs the handshake.
			s2 := &recordingSigner{Signer: tc.gen()}
			csr2, err := stepca.CreateCSRWithSigner(s2, request(cn), stepca.DER)
			if err != nil {
				t.Fatal(err)
			}
			rekeyed, err := client.Rekey(cred, csr2)
			if err != nil {
				t.Fatalf("rekey: %v", err)
			}
			verify(t, rekeyed, csr2)
			expectOneSignature(t, s, "rekey", tc.tls)
			s2.take()
			next := signerCredential(t, rekeyed, s2)
			if _, err := client.Renew(next, stepca.RenewMTLS); err != nil {
				t.Fatalf("renew after rekey: %v", err)
			}
			expectOneSignature(t, s2, "renew after rekey", tc.tls)

			if err := client.RevokeWithCertificate(next, stepca.WithReason(4, "superseded")); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			expectOneSignature(t, s2, "revoke", tc.tls)
			var se *stepca.Error
			if _, err := client.Renew(next, stepca.RenewMTLS); !errors.Is(err, stepca.ErrCARejected) || !errors.As(err, &se) || se.HTTPStatus != 401 {
				t.Fatalf("revoked certificate: want a 401, got %v", err)
			}
		})
	}
}

// hsmError is a signer's own error type, to be found with errors.As.
type hsmError struct{ slot int }

func (e *hsmError) Error() string { return fmt.Sprintf("HSM slot %d is locked", e.slot) }

// pkcs1Signer answers every RSA request with PKCS#1 v1.5, even when PSS was asked for.
type pkcs1Signer struct{ *rsa.PrivateKey }

func (s pkcs1Signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return rsa.SignPKCS1v15(r, s.PrivateKey, opts.HashFunc(), digest)
}

func TestCryptoSignerFailuresInTheHandshake(t *testing.T) {
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s := &recordingSigner{Signer: ec}
	chain, _ := enrollSigner(t, client, s, "go-cred-fail.example.com")
	cred := signerCredential(t, chain, s)
	locked := &hsmError{slot: 3}
	s.failWith(locked)
	_, err := client.Renew(cred, stepca.RenewMTLS)
	var he *hsmError
	if !errors.Is(err, stepca.ErrSigner) || !errors.Is(err, locked) || !errors.As(err, &he) || he.slot != 3 {
		t.Fatalf("want ErrSigner wrapping the signer's error, got %v", err)
	}
	if !strings.Contains(err.Error(), "HSM slot 3 is locked") {
		t.Fatalf("the message does not carry the signer's: %v", err)
	}
	// A failed call leaves the credential usable.
	s.failWith(nil)
	if _, err := client.Renew(cred, stepca.RenewMTLS); err != nil {
		t.Fatal(err)
	}

	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	chain, _ = enrollSigner(t, client, rk, "go-cred-pkcs1.example.com")
	wrong := signerCredential(t, chain, pkcs1Signer{rk})
	if _, err := client.Renew(wrong, stepca.RenewMTLS); !errors.Is(err, stepca.ErrSigner) {
		t.Fatalf("PKCS#1 v1.5 for a PSS handshake: want ErrSigner, got %v", err)
	}
	// The same signer is right where PKCS#1 v1.5 is asked for: the renew token.
	if _, err := client.Renew(wrong, stepca.RenewToken); err != nil {
		t.Fatalf("token renew with a PKCS#1 v1.5 signer: %v", err)
	}
}

// Calls through one credential with a Go signer run one at a time (so that a signer's
// error is the failing call's), and all of them succeed.
func TestCryptoSignerCredentialCallsRunOneAtATime(t *testing.T) {
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s := &recordingSigner{Signer: ec, delay: 50 * time.Millisecond}
	chain, _ := enrollSigner(t, client, s, "go-cred-serial.example.com")
	cred := signerCredential(t, chain, s)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.Renew(cred, stepca.RenewMTLS)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.maxInFlight != 1 || len(s.take()) != 5 {
		t.Fatalf("%d signatures at once", s.maxInFlight)
	}
}

// selfSigned makes a one-certificate chain for signer's key, without a CA.
func selfSigned(t *testing.T, signer crypto.Signer) *stepca.Chain {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "self"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &stepca.Chain{Certificates: []*x509.Certificate{cert}}
}

func TestCredentialConstructorsAndClose(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	key, err := stepca.LoadKey(pkcs8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	otherKey, _ := stepca.GenerateKey(stepca.ECP256)
	defer otherKey.Close()
	chain := selfSigned(t, ec)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		err  error
		make func() (*stepca.Credential, error)
	}{
		{"nil chain", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) { return stepca.NewCredential(nil, key) }},
		{"empty chain", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) { return stepca.NewCredential(&stepca.Chain{}, key) }},
		{"nil key", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) { return stepca.NewCredential(chain, nil) }},
		{"another key", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) { return stepca.NewCredential(chain, otherKey) }},
		{"nil signer", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) { return stepca.NewCredentialWithSigner(chain, nil) }},
		{"nil held key", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) {
			return stepca.NewCredentialWithSigner(chain, (*stepca.HeldKey)(nil))
		}},
		{"another signer", stepca.ErrInvalidArgument, func() (*stepca.Credential, error) { return stepca.NewCredentialWithSigner(chain, other) }},
		{"P-224", stepca.ErrUnsupported, func() (*stepca.Credential, error) { return stepca.NewCredentialWithSigner(selfSigned(t, p224), p224) }},
		{"RSA-1024", stepca.ErrUnsupported, func() (*stepca.Credential, error) {
			return stepca.NewCredentialWithSigner(selfSigned(t, rsa1024), rsa1024)
		}},
	} {
		if cred, err := tc.make(); !errors.Is(err, tc.err) || cred != nil {
			t.Errorf("%s: want %v, got %v", tc.name, tc.err, err)
		}
	}
	if _, err := stepca.CreateCSRWithSigner(rsa1024, nil, stepca.DER); !errors.Is(err, stepca.ErrUnsupported) {
		t.Errorf("CSR with RSA-1024: %v", err)
	}

	for _, mk := range []func() (*stepca.Credential, error){
		func() (*stepca.Credential, error) { return stepca.NewCredential(chain, key) },
		func() (*stepca.Credential, error) { return stepca.NewCredentialWithSigner(chain, ec) },
	} {
		cred, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		if !cred.Chain().Leaf().Equal(chain.Leaf()) {
			t.Fatal("chain differs")
		}
		client := newClient(t)
		if _, err := client.Renew(cred, stepca.RenewAuth(9)); !errors.Is(err, stepca.ErrInvalidArgument) {
			t.Fatalf("unknown RenewAuth: %v", err)
		}
		if err := client.RevokeWithCertificate(cred, stepca.WithRevokeToken("t")); !errors.Is(err, stepca.ErrInvalidArgument) {
			t.Fatalf("a token for RevokeWithCertificate: %v", err)
		}
		cred.Close()
		cred.Close()
		if _, err := client.Renew(cred, stepca.RenewMTLS); !errors.Is(err, stepca.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
		if _, err := client.Rekey(nil, []byte("x")); !errors.Is(err, stepca.ErrInvalidArgument) {
			t.Fatalf("nil credential: %v", err)
		}
	}
	closed, _ := stepca.GenerateKey(stepca.ECP256)
	closed.Close()
	if _, err := stepca.NewCredential(chain, closed); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("closed key: %v", err)
	}
}

// A credential shares its key: closing the *Key after making it changes nothing.
func TestKeyCredentialOutlivesItsKey(t *testing.T) {
	c := mintingClient(t)
	key, _ := stepca.GenerateKey(stepca.RSA2048)
	chain := enrollGo(t, c, key, "go-cred-key.example.com", time.Hour)
	cred, err := stepca.NewCredential(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	key.Close()
	renewed, err := c.Renew(cred, stepca.RenewMTLS)
	if err != nil {
		t.Fatal(err)
	}
	renewedFrom(t, renewed, chain)
	if err := c.RevokeWithCertificate(cred); err != nil {
		t.Fatal(err)
	}
}

// PKCS#11 keys for their whole life: enrolled, renewed over mutual TLS, rekeyed to a key
// generated in the same token, revoked. The key never leaves the token.
func TestPKCS11CredentialWholeLife(t *testing.T) {
	softHSMToken(t)
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	for _, tc := range []struct {
		name string
		kt   stepca.KeyType
		tls  crypto.SignerOpts
	}{
		{"P-256", stepca.ECP256, crypto.SHA256},
		{"RSA-2048", stepca.RSA2048, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := hsmLabel("go-life-" + tc.name)
			cn := "go-hsm-life-" + strings.ToLower(tc.name) + ".example.com"
			key, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, label, tc.kt)
			if err != nil {
				t.Fatal(err)
			}
			chain, _ := enrollSigner(t, client, key, cn)
			cred := signerCredential(t, chain, key)
			renewed, err := client.Renew(cred, stepca.RenewMTLS)
			if err != nil {
				t.Fatalf("mTLS renew: %v", err)
			}
			renewedFrom(t, renewed, chain)

			// The same key as a crypto.Signer behind a recording wrapper: the handshake's
			// one signature is made in the token from a digest (RSA-PSS for RSA), and
			// libstepca verifies it before the CA sees it.
			rec := &recordingSigner{Signer: key}
			viaDigest := signerCredential(t, chain, rec)
			renewed, err = client.Renew(viaDigest, stepca.RenewMTLS)
			if err != nil {
				t.Fatalf("mTLS renew through HeldKey.Sign: %v", err)
			}
			renewedFrom(t, renewed, chain)
			expectOneSignature(t, rec, "mTLS renew through HeldKey.Sign", tc.tls)

			newKey, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, label+"-next", tc.kt)
			if err != nil {
				t.Fatal(err)
			}
			csr2, err := stepca.CreateCSRWithSigner(newKey, request(cn), stepca.DER)
			if err != nil {
				t.Fatal(err)
			}
			rekeyed, err := client.Rekey(cred, csr2)
			if err != nil {
				t.Fatalf("rekey: %v", err)
			}
			verify(t, rekeyed, csr2)
			next := signerCredential(t, rekeyed, newKey)
			// The credentials keep their keys open: closing the HeldKeys changes nothing.
			key.Close()
			newKey.Close()
			if _, err := client.Renew(next, stepca.RenewMTLS); err != nil {
				t.Fatalf("renew after rekey: %v", err)
			}
			if err := client.RevokeWithCertificate(next); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			var se *stepca.Error
			if _, err := client.Renew(next, stepca.RenewMTLS); !errors.As(err, &se) || se.HTTPStatus != 401 {
				t.Fatalf("revoked certificate: want a 401, got %v", err)
			}
		})
	}
}

// A PKCS#11 key is a crypto.Signer that Go's own crypto/x509 signs with and verifies.
func TestPKCS11KeyAsACryptoSigner(t *testing.T) {
	softHSMToken(t)
	ec256, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-signer-p256"), stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	defer ec256.Close()
	ec384, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-signer-p384"), stepca.ECP384)
	if err != nil {
		t.Fatal(err)
	}
	defer ec384.Close()
	rk, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-signer-rsa"), stepca.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	defer rk.Close()

	for _, tc := range []struct {
		key *stepca.HeldKey
		alg x509.SignatureAlgorithm
	}{
		{ec256, x509.ECDSAWithSHA256},
		{ec384, x509.ECDSAWithSHA384},
		{rk, x509.SHA256WithRSA},
		{rk, x509.SHA384WithRSA},
		{rk, x509.SHA512WithRSA},
		{rk, x509.SHA256WithRSAPSS},
		{rk, x509.SHA384WithRSAPSS},
		{rk, x509.SHA512WithRSAPSS},
	} {
		der, _ := tc.key.PublicKeyDER()
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.key.Public()) {
			t.Fatalf("Public() differs from the token's key: %v", err)
		}
		csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x509"}, SignatureAlgorithm: tc.alg}, tc.key)
		if err != nil {
			t.Fatalf("%v: %v", tc.alg, err)
		}
		csr, _ := x509.ParseCertificateRequest(csrDER)
		if err := csr.CheckSignature(); err != nil || csr.SignatureAlgorithm != tc.alg {
			t.Fatalf("%v: CSR signature %v: %v", tc.alg, csr.SignatureAlgorithm, err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), SignatureAlgorithm: tc.alg, BasicConstraintsValid: true, IsCA: true}
		certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
		if err != nil {
			t.Fatalf("%v: certificate: %v", tc.alg, err)
		}
		cert, _ := x509.ParseCertificate(certDER)
		if err := cert.CheckSignatureFrom(cert); err != nil {
			t.Fatalf("%v: certificate signature: %v", tc.alg, err)
		}
	}

	// Direct checks with crypto/rsa and crypto/ecdsa, and the options a token cannot honour.
	msg := []byte("signed in the token")
	d256 := sha256.Sum256(msg)
	d384 := sha512.Sum384(msg)
	rpub := rk.Public().(*rsa.PublicKey)
	for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 32} {
		sig, err := rk.Sign(nil, d256[:], &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA256})
		if err != nil {
			t.Fatalf("PSS salt %d: %v", salt, err)
		}
		if err := rsa.VerifyPSS(rpub, crypto.SHA256, d256[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("PSS salt %d: VerifyPSS: %v", salt, err)
		}
	}
	sig, err := rk.Sign(nil, d384[:], crypto.SHA384)
	if err != nil || rsa.VerifyPKCS1v15(rpub, crypto.SHA384, d384[:], sig) != nil {
		t.Fatalf("PKCS#1 v1.5 SHA-384: %v", err)
	}
	sig, err = ec384.Sign(nil, d384[:], crypto.SHA384)
	if err != nil || !ecdsa.VerifyASN1(ec384.Public().(*ecdsa.PublicKey), d384[:], sig) {
		t.Fatalf("ECDSA P-384: %v", err)
	}
	for _, tc := range []struct {
		name   string
		key    *stepca.HeldKey
		digest []byte
		opts   crypto.SignerOpts
		want   error
	}{
		{"PSS salt 20", rk, d256[:], &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA256}, stepca.ErrUnsupported},
		{"RSA SHA-1", rk, d256[:20], crypto.SHA1, stepca.ErrUnsupported},
		{"P-256 with SHA-384", ec256, d384[:], crypto.SHA384, stepca.ErrUnsupported},
		{"short digest", ec256, d256[:16], crypto.SHA256, stepca.ErrInvalidArgument},
		{"nil opts", ec256, d256[:], nil, stepca.ErrInvalidArgument},
	} {
		if _, err := tc.key.Sign(nil, tc.digest, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.want, err)
		}
	}
	ec256.Close()
	if _, err := ec256.Sign(nil, d256[:], crypto.SHA256); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if ec256.Public() == nil {
		t.Fatal("Public() after Close")
	}
}

// Go's own crypto/tls signs a TLS 1.3 handshake with a PKCS#11 key (RSA-PSS from a
// digest), and step-ca renews the certificate over that connection.
func TestPKCS11KeyInGoTLS(t *testing.T) {
	softHSMToken(t)
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	key, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-tls-rsa"), stepca.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	chain, _ := enrollSigner(t, client, key, "go-tls.example.com")
	rec := &recordingSigner{Signer: key}
	roots := x509.NewCertPool()
	rootPEM, _ := os.ReadFile(caRoot)
	roots.AppendCertsFromPEM(rootPEM)
	var certs [][]byte
	for _, c := range chain.Certificates {
		certs = append(certs, c.Raw)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: certs, PrivateKey: rec}},
	}}}
	resp, err := hc.Post(caURL+"/1.0/renew", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Crt string `json:"crt"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("renew: %d %v", resp.StatusCode, err)
	}
	block, _ := pem.Decode([]byte(body.Crt))
	if block == nil {
		t.Fatal("no certificate in the answer")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	renewedFrom(t, &stepca.Chain{Certificates: []*x509.Certificate{leaf}}, chain)
	got := rec.take()
	if len(got) != 1 {
		t.Fatalf("%d signatures", len(got))
	}
	if p, ok := got[0].(*rsa.PSSOptions); !ok || p.Hash != crypto.SHA256 {
		t.Fatalf("crypto/tls asked for %s", describe(got[0]))
	}
}
