package stepca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// The CA under test comes from scripts/with-ca.sh (STEPCA_URL, STEPCA_ROOT, ...).
var caURL, caRoot, provisioner, passwordFile string

func TestMain(m *testing.M) {
	caURL, caRoot = os.Getenv("STEPCA_URL"), os.Getenv("STEPCA_ROOT")
	provisioner, passwordFile = os.Getenv("STEPCA_PROVISIONER"), os.Getenv("STEPCA_PASSWORD_FILE")
	flag.Parse()
	if caURL == "" || caRoot == "" {
		if requireAll() {
			fmt.Fprintln(os.Stderr, "STEPCA_URL is not set and STEPCA_REQUIRE_TOOLS=1: run these tests under scripts/with-ca.sh")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "STEPCA_URL is not set: tests that need step-ca skip (run under scripts/with-ca.sh for all)")
		skipCAExamples()
	}
	code := m.Run()
	if hsmDir != "" {
		os.RemoveAll(hsmDir)
	}
	os.Exit(code)
}

// requireAll: scripts/test.sh sets STEPCA_REQUIRE_TOOLS=1, where every tool and the CA are
// in place, so a test that would skip fails instead of passing unnoticed.
func requireAll() bool { return os.Getenv("STEPCA_REQUIRE_TOOLS") == "1" }

// skip skips t with why, or fails it under STEPCA_REQUIRE_TOOLS=1.
func skip(t testing.TB, why string) {
	t.Helper()
	if requireAll() {
		t.Fatalf("%s (STEPCA_REQUIRE_TOOLS=1: not skipping)", why)
	}
	t.Skip(why)
}

// needCA skips a test that talks to step-ca when none is configured.
func needCA(t testing.TB) {
	t.Helper()
	if caURL == "" || caRoot == "" {
		skip(t, "STEPCA_URL is not set: run under scripts/with-ca.sh")
	}
}

// caExamples are the examples whose output needs step-ca. An example cannot call t.Skip,
// so without a CA they are left out through -test.skip (added to any given).
var caExamples = []string{"ExampleClient_Sign", "ExampleClient_Renew", "ExampleRenewer"}

func skipCAExamples() {
	pattern := "^(" + strings.Join(caExamples, "|") + ")$"
	if f := flag.Lookup("test.skip"); f != nil {
		if old := f.Value.String(); old != "" {
			pattern = old + "|" + pattern
		}
		if err := f.Value.Set(pattern); err != nil {
			panic(err)
		}
	}
	fmt.Fprintf(os.Stderr, "skipping %s: they need step-ca\n", strings.Join(caExamples, ", "))
}

// mint asks the real step CLI for a sign token. stepSlots bounds concurrent step processes
// (each spends ~0.3 s of CPU decrypting the provisioner key).
var stepSlots = make(chan struct{}, 4)

func mint(subject string, sans []string) (string, error) {
	stepSlots <- struct{}{}
	defer func() { <-stepSlots }()
	args := []string{"ca", "token", subject, "--provisioner", provisioner, "--password-file", passwordFile, "--ca-url", caURL, "--root", caRoot}
	for _, s := range sans {
		args = append(args, "--san", s)
	}
	out, err := exec.Command("step", args...).Output()
	if err != nil {
		return "", fmt.Errorf("step ca token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func mintingProvider(c stepca.Claims) (string, error) { return mint(c.Subject, c.SANs) }

// verify checks the chain with crypto/x509 against the CA root and that the leaf carries
// the CSR's public key.
func verify(t *testing.T, chain *stepca.Chain, csrDER []byte) {
	t.Helper()
	if err := verifyChain(chain, csrDER); err != nil {
		t.Fatal(err)
	}
}

func verifyChain(chain *stepca.Chain, csrDER []byte) error {
	pemBytes, err := os.ReadFile(caRoot)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	inter := x509.NewCertPool()
	for _, c := range chain.Intermediates() {
		inter.AddCert(c)
	}
	if _, err := chain.Leaf().Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("chain does not verify: %w", err)
	}
	if csrDER == nil {
		return nil // the caller checks the key
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return err
	}
	if err := csr.CheckSignature(); err != nil {
		return err
	}
	if !chain.Leaf().PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
		return errors.New("leaf key differs from the CSR key")
	}
	return nil
}

func newClient(t *testing.T, opts ...stepca.Option) *stepca.Client {
	t.Helper()
	needCA(t)
	opts = append([]stepca.Option{stepca.WithRootFile(caRoot), stepca.WithProvisioner(provisioner), stepca.WithTimeouts(5*time.Second, 30*time.Second)}, opts...)
	c, err := stepca.NewClient(caURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func csrFor(t *testing.T, key *stepca.Key, cn string, dns ...string) []byte {
	t.Helper()
	der, err := stepca.CreateCSR(key, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}, DNSNames: dns}, stepca.DER)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestEnrollEachKeyType(t *testing.T) {
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	for i, kt := range []stepca.KeyType{stepca.RSA2048, stepca.RSA3072, stepca.RSA4096, stepca.ECP256, stepca.ECP384, stepca.Ed25519} {
		key, err := stepca.GenerateKey(kt)
		if err != nil {
			t.Fatal(err)
		}
		cn := fmt.Sprintf("go-type-%d.example.com", i)
		csr := csrFor(t, key, cn, cn)
		chain, err := client.Sign(csr)
		if err != nil {
			t.Fatalf("%v: %v", kt, err)
		}
		verify(t, chain, csr)
		if chain.Leaf().Subject.CommonName != cn || len(chain.Certificates) != 2 {
			t.Fatalf("unexpected chain: %v", chain.Leaf().Subject)
		}
		key.Close()
	}
}

// Keys written by Go's crypto packages in every encoding load, and the CSR carries them.
func TestLoadKeysFromGoEncodings(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p8 := func(k any) []byte { b, _ := x509.MarshalPKCS8PrivateKey(k); return b }
	sec1, _ := x509.MarshalECPrivateKey(ec)
	cases := []struct {
		name string
		data []byte
		pub  crypto.PublicKey
		alg  stepca.KeyAlgorithm
	}{
		{"ec-pkcs8-der", p8(ec), ec.Public(), stepca.AlgECP384},
		{"ec-sec1-pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ec.Public(), stepca.AlgECP384},
		{"rsa-pkcs1-pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), rk.Public(), stepca.AlgRSA},
		{"ed25519-pkcs8-pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8(ed)}), ed.Public(), stepca.AlgEd25519},
	}
	for _, c := range cases {
		key, err := stepca.LoadKey(c.data, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if key.Algorithm() != c.alg {
			t.Fatalf("%s: algorithm %v", c.name, key.Algorithm())
		}
		der, err := stepca.CreateCSR(key, nil, stepca.DER)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil || csr.CheckSignature() != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !c.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
			t.Fatalf("%s: CSR carries another key", c.name)
		}
		key.Close()
	}
	if _, err := stepca.LoadKey([]byte("garbage"), nil); !errors.Is(err, stepca.ErrKey) {
		t.Fatalf("want ErrKey, got %v", err)
	}
}

func TestCSRFieldsParsedByGo(t *testing.T) {
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	u, _ := url.Parse("spiffe://example.com/dev")
	der, err := stepca.CreateCSR(key, &stepca.CSRRequest{
		Subject:          []stepca.Attribute{{Name: "C", Value: "US"}, {Name: "O", Value: "Example Corp"}, {Name: "CN", Value: "dev.example.com"}},
		DNSNames:         []string{"dev.example.com"},
		IPAddresses:      []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")},
		EmailAddresses:   []string{"dev@example.com"},
		URIs:             []*url.URL{u},
		BasicConstraints: &stepca.BasicConstraints{CA: false, PathLen: -1},
		KeyUsage:         stepca.KeyUsageDigitalSignature | stepca.KeyUsageKeyAgreement,
		ExtKeyUsage:      []string{"serverAuth", "clientAuth"},
	}, stepca.DER)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.String() != "CN=dev.example.com,O=Example Corp,C=US" {
		t.Fatalf("subject %q", csr.Subject.String())
	}
	if len(csr.DNSNames) != 1 || len(csr.IPAddresses) != 2 || csr.EmailAddresses[0] != "dev@example.com" || csr.URIs[0].String() != u.String() {
		t.Fatalf("SANs %v %v %v %v", csr.DNSNames, csr.IPAddresses, csr.EmailAddresses, csr.URIs)
	}
	if !csr.IPAddresses[1].Equal(net.ParseIP("2001:db8::1")) {
		t.Fatal(csr.IPAddresses)
	}
	// Bad input names the field.
	_, err = stepca.CreateCSR(key, &stepca.CSRRequest{ExtKeyUsage: []string{"nonsense"}}, stepca.PEM)
	var se *stepca.Error
	if !errors.As(err, &se) || se.Code != stepca.CodeInvalidArgument || !strings.HasPrefix(se.Message, "extended_key_usage:") {
		t.Fatalf("got %v", err)
	}
}

// Subject attributes over RFC 5280's upper bounds are refused, naming the attribute.
func TestSubjectOverRFC5280BoundIsRefused(t *testing.T) {
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	_, err := stepca.CreateCSR(key, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: strings.Repeat("a", 10000)}}}, stepca.DER)
	var se *stepca.Error
	if !errors.Is(err, stepca.ErrInvalidArgument) || !errors.As(err, &se) {
		t.Fatalf("want ErrInvalidArgument, got %#v", err)
	}
	if !strings.HasPrefix(se.Message, "subject.CN:") || !strings.Contains(se.Message, "at most 64") {
		t.Fatalf("message %q", se.Message)
	}
	if _, err := stepca.CreateCSR(key, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: strings.Repeat("a", 64)}}}, stepca.DER); err != nil {
		t.Fatalf("64 characters: %v", err)
	}
}

func TestAllFourSANTypes(t *testing.T) {
	var seen atomic.Value
	client := newClient(t, stepca.WithTokenProvider(func(c stepca.Claims) (string, error) {
		seen.Store(c)
		return mintingProvider(c)
	}))
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	u, _ := url.Parse("spiffe://example.com/go-multi")
	req := &stepca.CSRRequest{
		Subject:        []stepca.Attribute{{Name: "CN", Value: "go-multi.example.com"}},
		DNSNames:       []string{"go-multi.example.com"},
		IPAddresses:    []net.IP{net.ParseIP("203.0.113.5"), net.ParseIP("2001:db8::5")},
		EmailAddresses: []string{"go-multi@example.com"},
		URIs:           []*url.URL{u},
	}
	csr, err := stepca.CreateCSR(key, req, stepca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := client.Sign(csr)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(csr)
	verify(t, chain, block.Bytes)
	leaf := chain.Leaf()
	if leaf.DNSNames[0] != "go-multi.example.com" || len(leaf.IPAddresses) != 2 || leaf.EmailAddresses[0] != "go-multi@example.com" || leaf.URIs[0].String() != u.String() {
		t.Fatalf("leaf SANs: %v %v %v %v", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses, leaf.URIs)
	}
	c := seen.Load().(stepca.Claims)
	if c.Audience != caURL+"/1.0/sign" || c.Provisioner != provisioner || len(c.SANs) != 5 || len(c.IPAddresses) != 2 || len(c.URIs) != 1 {
		t.Fatalf("claims: %+v", c)
	}
}

var errVaultSealed = errors.New("vault sealed")

func TestTokenProviderErrorsAndPanics(t *testing.T) {
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	csr := csrFor(t, key, "go-cb.example.com", "go-cb.example.com")

	failing := newClient(t, stepca.WithTokenProvider(func(stepca.Claims) (string, error) {
		return "", fmt.Errorf("looking up token: %w", errVaultSealed)
	}))
	_, err := failing.Sign(csr)
	if !errors.Is(err, errVaultSealed) || !errors.Is(err, stepca.ErrTokenProvider) {
		t.Fatalf("want the provider's error and ErrTokenProvider, got %v", err)
	}
	var se *stepca.Error
	if !errors.As(err, &se) || !strings.Contains(se.Message, "vault sealed") {
		t.Fatalf("got %#v", err)
	}

	panicking := newClient(t, stepca.WithTokenProvider(func(stepca.Claims) (string, error) { panic("boom") }))
	_, err = panicking.Sign(csr)
	if !errors.Is(err, stepca.ErrTokenProvider) || !strings.Contains(err.Error(), "panicked: boom") {
		t.Fatalf("got %v", err)
	}

	empty := newClient(t, stepca.WithTokenProvider(func(stepca.Claims) (string, error) { return "", nil }))
	if _, err = empty.Sign(csr); !errors.Is(err, stepca.ErrTokenProvider) {
		t.Fatalf("got %v", err)
	}
	if _, err = newClient(t).Sign(csr); !errors.Is(err, stepca.ErrNoToken) {
		t.Fatalf("got %v", err)
	}
	// A per-call token overrides the provider.
	tok, err := mint("go-cb.example.com", []string{"go-cb.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = failing.Sign(csr, stepca.WithToken(tok)); err != nil {
		t.Fatal(err)
	}
}

// A retry of a request that never reached the CA reuses the token: the provider is asked
// once per call.
func TestTokenAskedOnceAcrossRetries(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var calls atomic.Int64
	c, err := stepca.NewClient(fmt.Sprintf("https://127.0.0.1:%d", port), stepca.WithRootFile(caRoot),
		stepca.WithRetries(3, 100*time.Millisecond, time.Second),
		stepca.WithTokenProvider(func(stepca.Claims) (string, error) {
			if calls.Add(1) > 1 {
				return "", errors.New("the one token was handed out already")
			}
			return "a.b.c", nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	start := time.Now()
	_, err = c.Sign(csrFor(t, key, "go-once.example.com", "go-once.example.com"))
	if !errors.Is(err, stepca.ErrTransport) {
		t.Fatalf("want ErrTransport, got %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("provider asked %d times", n)
	}
	// Two waits (100 ms and 200 ms, jittered down to half at most) show it was retried.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("failed after %v: not retried", d)
	}
}

func TestCARejections(t *testing.T) {
	client := newClient(t)
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()

	tok, _ := mint("go-good.example.com", []string{"go-good.example.com"})
	_, err := client.Sign(csrFor(t, key, "go-good.example.com", "go-evil.example.com"), stepca.WithToken(tok))
	var se *stepca.Error
	if !errors.Is(err, stepca.ErrCARejected) || !errors.As(err, &se) || se.HTTPStatus != 403 || !strings.Contains(se.CAMessage, "valid DNS names") {
		t.Fatalf("want 403 SAN mismatch, got %#v", err)
	}

	tok, _ = mint("go-reuse.example.com", []string{"go-reuse.example.com"})
	csr := csrFor(t, key, "go-reuse.example.com", "go-reuse.example.com")
	if _, err := client.Sign(csr, stepca.WithToken(tok)); err != nil {
		t.Fatal(err)
	}
	_, err = client.Sign(csr, stepca.WithToken(tok))
	if !errors.As(err, &se) || se.HTTPStatus != 401 {
		t.Fatalf("want 401 on reuse, got %v", err)
	}

	tok, _ = mint("go-long.example.com", []string{"go-long.example.com"})
	_, err = client.Sign(csrFor(t, key, "go-long.example.com", "go-long.example.com"), stepca.WithToken(tok), stepca.WithValidity(time.Time{}, time.Now().Add(200*24*time.Hour)))
	if !errors.As(err, &se) || se.HTTPStatus != 403 {
		t.Fatalf("want 403 on validity, got %v", err)
	}
}

func TestWrongRootIsATLSError(t *testing.T) {
	needCA(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Other Root"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	client, err := stepca.NewClient(caURL, stepca.WithRootPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	_, err = client.Sign(csrFor(t, key, "x"), stepca.WithToken("a.b.c"))
	if !errors.Is(err, stepca.ErrTLS) {
		t.Fatalf("want ErrTLS, got %v", err)
	}
	if _, err := stepca.NewClient(strings.Replace(caURL, "https", "http", 1)); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("http must be refused, got %v", err)
	}
}

// One client, 64 goroutines: the documented concurrency guarantee.
func TestSixtyFourGoroutinesShareOneClient(t *testing.T) {
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cn := fmt.Sprintf("go-g%d.example.com", i)
			csr, err := stepca.CreateCSR(key, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}, DNSNames: []string{cn}}, stepca.DER)
			if err != nil {
				errs <- err
				return
			}
			chain, err := client.Sign(csr)
			if err != nil {
				errs <- err
				return
			}
			if chain.Leaf().Subject.CommonName != cn {
				errs <- fmt.Errorf("goroutine %d got %s", i, chain.Leaf().Subject.CommonName)
			}
			if err := verifyChain(chain, csr); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	needCA(t)
	c, err := stepca.NewClient(caURL, stepca.WithRootFile(caRoot))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if _, err := c.Sign([]byte("x"), stepca.WithToken("a.b.c")); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("got %v", err)
	}
	k, _ := stepca.GenerateKey(stepca.Ed25519)
	k.Close()
	k.Close()
	if _, err := k.PEM(); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

// Without cgo the package must not build (rather than fail at run time).
func TestBuildWithoutCgoFails(t *testing.T) {
	cmd := exec.Command("go", "build", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stepca_requires_cgo__build_with_CGO_ENABLED_1") {
		t.Fatalf("want a build failure naming cgo, got err=%v:\n%s", err, out)
	}
}

// Supports answers from the library's own capability list.
func TestSupports(t *testing.T) {
	if !stepca.Supports("ECDSA-P256-SHA256") || !stepca.Supports("Ed25519") {
		t.Fatalf("a signature algorithm the library has is not reported: %s", stepca.Capabilities())
	}
	if stepca.Supports("no-such-capability") {
		t.Fatal("an unknown capability is reported as supported")
	}
}

// Enroll builds and exchanges the CSR in one call; EnrollWithSigner signs it through a
// crypto.Signer once. Nothing that cannot be built asks for a token.
func TestEnrollInOneCall(t *testing.T) {
	var asked atomic.Int32
	client := newClient(t, stepca.WithTokenProvider(func(c stepca.Claims) (string, error) {
		asked.Add(1)
		return mintingProvider(c)
	}))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	key, err := stepca.LoadKey(der, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	check := func(chain *stepca.Chain, cn string, pub crypto.PublicKey) {
		t.Helper()
		if err := verifyChain(chain, nil); err != nil {
			t.Fatal(err)
		}
		if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(chain.Leaf().PublicKey) {
			t.Fatal("the leaf does not carry the key")
		}
		if chain.Leaf().Subject.CommonName != cn || !slices.Equal(chain.Leaf().DNSNames, []string{cn}) {
			t.Fatalf("leaf %v %v", chain.Leaf().Subject, chain.Leaf().DNSNames)
		}
	}
	req := &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: "go-enroll.example.com"}}, DNSNames: []string{"go-enroll.example.com"}}
	chain, err := client.Enroll(key, req)
	if err != nil {
		t.Fatal(err)
	}
	check(chain, "go-enroll.example.com", ec.Public())

	signer := &countingSigner{Signer: ec}
	req = &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: "go-enroll-signer.example.com"}}, DNSNames: []string{"go-enroll-signer.example.com"}}
	chain, err = client.EnrollWithSignerContext(context.Background(), signer, req)
	if err != nil {
		t.Fatal(err)
	}
	check(chain, "go-enroll-signer.example.com", ec.Public())
	if signer.calls != 1 || asked.Load() != 2 {
		t.Fatalf("signer called %d times, provider asked %d times", signer.calls, asked.Load())
	}

	bad := &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: "x"}}, SignatureAlgorithm: stepca.SigRSAPKCS1SHA256}
	if _, err := client.Enroll(key, bad); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("a signature algorithm the key cannot make: %v", err)
	}
	if _, err := client.Enroll(nil, req); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("nil key: %v", err)
	}
	if _, err := client.EnrollWithSigner(nil, req); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("nil signer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.EnrollContext(ctx, key, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	if asked.Load() != 2 {
		t.Fatalf("the provider was asked %d times, want 2", asked.Load())
	}
}
