package stepca_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// Factory identity at the real step-ca: scripts/with-ca.sh adds an X5C provisioner
// ($STEPCA_X5C_PROVISIONER, "factory") trusting a factory CA whose unencrypted key issues
// the devices' birth certificates (IDevIDs) here.

func x5cName() string { return os.Getenv("STEPCA_X5C_PROVISIONER") }

// birth has the factory CA (or issuer: certificate and key) certify signer's key under
// cn, with extra flags for `step certificate sign`, and returns the birth certificate.
func birth(t *testing.T, signer crypto.Signer, cn string, issuer []string, extra ...string) *stepca.Chain {
	t.Helper()
	csr, err := stepca.CreateCSRWithSigner(signer, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}}, stepca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	return certify(t, csr, issuer, extra...)
}

// certify is birth for a CSR made elsewhere.
func certify(t *testing.T, csr []byte, issuer []string, extra ...string) *stepca.Chain {
	t.Helper()
	path := filepath.Join(t.TempDir(), "idevid.csr")
	if err := os.WriteFile(path, csr, 0o600); err != nil {
		t.Fatal(err)
	}
	if issuer == nil {
		issuer = []string{os.Getenv("STEPCA_FACTORY_ROOT"), os.Getenv("STEPCA_FACTORY_KEY")}
	}
	out, err := exec.Command("step", append([]string{"certificate", "sign", path, issuer[0], issuer[1]}, extra...)...).Output()
	if err != nil {
		t.Fatalf("step certificate sign: %v", err)
	}
	block, _ := pem.Decode(out)
	if block == nil {
		t.Fatalf("step certificate sign wrote %q", out)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &stepca.Chain{Certificates: []*x509.Certificate{cert}}
}

// factoryProvisioner is the X5C provisioner for signer's birth certificate, closed (with
// its credential) when the test ends.
func factoryProvisioner(t *testing.T, signer crypto.Signer, cn string, extra ...string) (*stepca.X5CProvisioner, *stepca.Chain) {
	t.Helper()
	chain := birth(t, signer, cn, nil, extra...)
	cred := signerCredential(t, chain, signer)
	p, err := stepca.NewX5CProvisioner(x5cName(), cred)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, chain
}

func ecSigner(t *testing.T) *recordingSigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &recordingSigner{Signer: k}
}

// operational enrolls a new operational key under cn with opts and checks the chain.
func operational(t *testing.T, c *stepca.Client, cn string, opts ...stepca.SignOption) (*stepca.Chain, *stepca.Key) {
	t.Helper()
	key, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { key.Close() })
	csr := csrFor(t, key, cn, cn)
	chain, err := c.Sign(csr, opts...)
	if err != nil {
		t.Fatalf("%s: %v", cn, err)
	}
	verify(t, chain, csr)
	if chain.Leaf().Subject.CommonName != cn {
		t.Fatalf("issued to %q", chain.Leaf().Subject.CommonName)
	}
	return chain, key
}

// A device trades its birth certificate for an operational certificate; the IDevID key
// is a Go crypto.Signer, which signs exactly the one token, in the key's own scheme.
func TestX5CEnrollsWithAGoSigner(t *testing.T) {
	client := newClient(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for i, signer := range []*recordingSigner{ecSigner(t), {Signer: rk}} {
		p, idevid := factoryProvisioner(t, signer, fmt.Sprintf("SN-GO-%d", i))
		signer.take() // the birth CSR's signature
		chain, _ := operational(t, client, fmt.Sprintf("go-x5c-%d.example.com", i), stepca.WithCallX5CProvisioner(p))
		expectOneSignature(t, signer, "X5C token", crypto.SHA256)
		// step-ca ends it no later than the birth certificate.
		if chain.Leaf().NotAfter.After(idevid.Leaf().NotAfter) {
			t.Fatalf("operational certificate ends %v, after the birth certificate's %v", chain.Leaf().NotAfter, idevid.Leaf().NotAfter)
		}
	}
}

// The client's own X5C provisioner signs and revokes; the client keeps its share, so the
// provisioner and its credential may be closed first, and calls signing with one Go
// signer run one at a time.
func TestX5CProvisionerAsTheClientsTokenSource(t *testing.T) {
	needCA(t)
	signer := ecSigner(t)
	signer.delay = 20 * time.Millisecond
	chain := birth(t, signer, "SN-CLIENT", nil)
	cred, err := stepca.NewCredentialWithSigner(chain, signer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := stepca.NewX5CProvisioner(x5cName(), cred)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(t, stepca.WithX5CProvisioner(p))
	cred.Close()
	p.Close()
	p.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 6)
	chains := make(chan *stepca.Chain, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := stepca.GenerateKey(stepca.ECP256)
			if err != nil {
				errs <- err
				return
			}
			defer key.Close()
			cn := fmt.Sprintf("go-x5c-client-%d.example.com", i)
			csr, err := stepca.CreateCSR(key, request(cn), stepca.DER)
			if err != nil {
				errs <- err
				return
			}
			ch, err := client.Sign(csr)
			if err == nil {
				err = verifyChain(ch, csr)
			}
			if err != nil {
				errs <- err
				return
			}
			chains <- ch
		}()
	}
	wg.Wait()
	close(errs)
	close(chains)
	for err := range errs {
		t.Fatal(err)
	}
	signer.mu.Lock()
	most := signer.maxInFlight
	signer.mu.Unlock()
	if most != 1 {
		t.Fatalf("the factory signer ran %d calls at once", most)
	}
	if n := len(signer.take()); n != 6+1 { // the birth CSR and six tokens
		t.Fatalf("%d signatures", n)
	}

	// A revoke token from the client's X5C provisioner.
	revoked := <-chains
	if err := client.Revoke(revoked.Leaf().SerialNumber.String()); err != nil {
		t.Fatal(err)
	}
	if n := len(signer.take()); n != 1 {
		t.Fatalf("%d signatures for the revoke token", n)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
}

// The IDevID key in a PKCS#11 token, opened by the URI step's --kms takes; the token is
// signed there.
func TestX5CWithAPKCS11KeyOpenedByURI(t *testing.T) {
	needCA(t)
	softHSMToken(t)
	label := hsmLabel("go-idevid")
	generated, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, label, stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	defer generated.Close()
	pinFile := filepath.Join(t.TempDir(), "pin.txt")
	if err := os.WriteFile(pinFile, []byte(hsmPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := func(query string) string {
		return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s&%s", hsmToken, label, softhsm, query)
	}
	want, _ := generated.PublicKeyDER()
	for _, q := range []string{"pin-source=file:" + pinFile, "pin-value=" + hsmPIN} {
		key, err := stepca.OpenPKCS11KeyURI(uri(q))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got, _ := key.PublicKeyDER()
		if string(got) != string(want) {
			t.Fatalf("%s: another key", q)
		}
		defer key.Close()
	}
	idevid, err := stepca.OpenPKCS11KeyURI(uri("pin-source=file:" + pinFile))
	if err != nil {
		t.Fatal(err)
	}
	defer idevid.Close()
	p, _ := factoryProvisioner(t, idevid, "SN-HSM")
	operational(t, newClient(t), "go-x5c-hsm.example.com", stepca.WithCallX5CProvisioner(p))

	if _, err := stepca.OpenPKCS11KeyURI(uri("pin-value=0000")); !errors.Is(err, stepca.ErrKeyPassphrase) {
		t.Fatalf("wrong PIN: %v", err)
	}
	for _, bad := range []string{
		fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-value=%s", hsmToken, softhsm, hsmPIN), // no object
		"pkcs11:token=x;object=y?module-path=" + softhsm,                                      // no PIN
		"file:///etc/passwd",
	} {
		_, err := stepca.OpenPKCS11KeyURI(bad)
		var se *stepca.Error
		if !errors.Is(err, stepca.ErrInvalidArgument) || !errors.As(err, &se) || !strings.HasPrefix(se.Message, "uri: ") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// A certificate obtained with a factory identity is revoked with an X5C token; here the
// IDevID key is in memory.
func TestX5CRevoke(t *testing.T) {
	client := newClient(t)
	idevid, err := stepca.GenerateKey(stepca.ECP384)
	if err != nil {
		t.Fatal(err)
	}
	birthCSR, err := stepca.CreateCSR(idevid, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: "SN-REVOKE"}}}, stepca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	factory := credential(t, certify(t, birthCSR, nil), idevid)
	idevid.Close() // the credential keeps the key
	p, err := stepca.NewX5CProvisioner(x5cName(), factory)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	chain, key := operational(t, client, "go-x5c-revoke.example.com", stepca.WithCallX5CProvisioner(p))
	if err := client.Revoke(chain.Leaf().SerialNumber.String(), stepca.WithReason(1, "key compromise"), stepca.WithRevokeX5CProvisioner(p)); err != nil {
		t.Fatal(err)
	}
	_, err = client.Renew(credential(t, chain, key), stepca.RenewMTLS)
	var se *stepca.Error
	if !errors.Is(err, stepca.ErrCARejected) || !errors.As(err, &se) || se.HTTPStatus != 401 {
		t.Fatalf("renewing a revoked certificate: %v", err)
	}
	// Mutual TLS needs no token: an X5C provisioner there is a mistake.
	if err := client.RevokeWithCertificate(credential(t, chain, key), stepca.WithRevokeX5CProvisioner(p)); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("RevokeWithCertificate with a provisioner: %v", err)
	}
}

// What step-ca would refuse is refused here first, naming the reason, before anything is
// sent.
func TestX5CLocalRefusals(t *testing.T) {
	needCA(t)
	dir := t.TempDir()
	template := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	local := func(err error, sentinel error, prefix, contains string) {
		t.Helper()
		var se *stepca.Error
		if !errors.Is(err, sentinel) || !errors.As(err, &se) || !strings.HasPrefix(se.Message, prefix) ||
			!strings.Contains(se.Message, contains) || se.HTTPStatus != 0 {
			t.Fatalf("want %v %q...%q, nothing sent; got %v", sentinel, prefix, contains, err)
		}
	}
	for _, c := range []struct{ name, body, says string }{
		{"no-ds.tpl", `{"subject": {{ toJson .Subject }}, "keyUsage": ["keyEncipherment"], "extKeyUsage": ["clientAuth"]}`, "keyUsage without digitalSignature"},
		{"no-client-auth.tpl", `{"subject": {{ toJson .Subject }}, "keyUsage": ["digitalSignature"], "extKeyUsage": ["serverAuth"]}`, "extendedKeyUsage without clientAuth"},
	} {
		signer := ecSigner(t)
		cred := signerCredential(t, birth(t, signer, "SN-BAD", nil, "--template", template(c.name, c.body)), signer)
		_, err := stepca.NewX5CProvisioner(x5cName(), cred)
		local(err, stepca.ErrInvalidArgument, "factory: the certificate ", c.says)
	}
	if _, err := stepca.NewX5CProvisioner(x5cName(), nil); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("nil factory: %v", err)
	}

	client := newClient(t)
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	csr := csrFor(t, key, "go-x5c-refused.example.com", "go-x5c-refused.example.com")

	// Not valid yet at the client's time: the clock is named.
	future, _ := factoryProvisioner(t, ecSigner(t), "SN-FUTURE", "--not-before", "1h", "--not-after", "24h")
	_, err := client.Sign(csr, stepca.WithCallX5CProvisioner(future))
	local(err, stepca.ErrClock, "factory: the certificate is not valid before", "")

	// Expired at the client's time (its time source is two hours ahead).
	short, _ := factoryProvisioner(t, ecSigner(t), "SN-SHORT", "--not-after", "1h")
	later := newClient(t, stepca.WithTimeSource(shifted(2*time.Hour)))
	_, err = later.Sign(csr, stepca.WithCallX5CProvisioner(short))
	local(err, stepca.ErrInvalidArgument, "factory: the certificate expired at", "")

	// A notAfter past the birth certificate's.
	_, err = client.Sign(csr, stepca.WithCallX5CProvisioner(short), stepca.WithValidity(time.Time{}, time.Now().Add(2*time.Hour)))
	local(err, stepca.ErrInvalidArgument, "not_after: ", "factory certificate's notAfter")
	// Within it, the same provisioner enrolls.
	operational(t, client, "go-x5c-short.example.com", stepca.WithCallX5CProvisioner(short), stepca.WithValidity(time.Time{}, time.Now().Add(30*time.Minute)))
}

// Token lifetimes, one token source per call, and closed provisioners.
func TestX5CProvisionerSettings(t *testing.T) {
	needCA(t)
	p, _ := factoryProvisioner(t, ecSigner(t), "SN-SETTINGS")
	for _, d := range []time.Duration{5 * time.Second, 2 * time.Hour, -time.Minute, 1 << 62} {
		if err := p.SetLifetime(d); !errors.Is(err, stepca.ErrInvalidArgument) {
			t.Fatalf("lifetime %v: %v", d, err)
		}
	}
	if err := p.SetLifetime(time.Minute); err != nil {
		t.Fatal(err)
	}
	client := newClient(t, stepca.WithX5CProvisioner(p))
	var se *stepca.Error
	if err := p.SetLifetime(2 * time.Minute); !errors.As(err, &se) || se.Code != stepca.CodeInvalidArgument || !strings.HasPrefix(se.Message, "provisioner: ") {
		t.Fatalf("lifetime while a client holds it: %v", err)
	}
	operational(t, client, "go-x5c-settings.example.com")

	jwk, err := stepca.FetchJWKProvisioner(client, "admin", "", password(t))
	if err != nil {
		t.Fatal(err)
	}
	defer jwk.Close()
	if _, err := stepca.NewClient(caURL, stepca.WithRootFile(caRoot), stepca.WithJWKProvisioner(jwk), stepca.WithX5CProvisioner(p)); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("two client provisioners: %v", err)
	}
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	csr := csrFor(t, key, "go-x5c-two.example.com", "go-x5c-two.example.com")
	if _, err := client.Sign(csr, stepca.WithCallX5CProvisioner(p), stepca.WithCallTokenProvider(mintingProvider)); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("two call token sources: %v", err)
	}
	p.Close()
	if _, err := client.Sign(csr, stepca.WithCallX5CProvisioner(p)); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("closed provisioner: %v", err)
	}
	if err := p.SetLifetime(time.Minute); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("closed provisioner: %v", err)
	}
}

// A device from another factory: step-ca refuses its token (401).
func TestX5CAnotherFactoryIsRefusedByStepCA(t *testing.T) {
	needCA(t)
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "other_root.crt"), filepath.Join(dir, "other_root_key")
	if out, err := exec.Command("step", "certificate", "create", "Another Factory Root CA", crt, key,
		"--profile", "root-ca", "--no-password", "--insecure", "-f").CombinedOutput(); err != nil {
		t.Fatalf("step certificate create: %v %s", err, out)
	}
	signer := ecSigner(t)
	cred := signerCredential(t, birth(t, signer, "SN-OTHER", []string{crt, key}), signer)
	p, err := stepca.NewX5CProvisioner(x5cName(), cred)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opKey, _ := stepca.GenerateKey(stepca.ECP256)
	defer opKey.Close()
	_, err = newClient(t).Sign(csrFor(t, opKey, "go-intruder.example.com", "go-intruder.example.com"), stepca.WithCallX5CProvisioner(p))
	var se *stepca.Error
	if !errors.As(err, &se) || se.Code != stepca.CodeCARejected || se.HTTPStatus != 401 || se.CAMessage == "" {
		t.Fatalf("want step-ca's 401, got %v", err)
	}
}

// A factory signer's error comes back unchanged inside ErrSigner.
func TestX5CFactorySignerErrorComesBack(t *testing.T) {
	needCA(t)
	signer := ecSigner(t)
	p, _ := factoryProvisioner(t, signer, "SN-LOCKED")
	errLocked := &hsmError{slot: 3}
	signer.failWith(errLocked)
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	_, err := newClient(t).Sign(csrFor(t, key, "go-x5c-locked.example.com"), stepca.WithCallX5CProvisioner(p))
	var he *hsmError
	if !errors.Is(err, stepca.ErrSigner) || !errors.As(err, &he) || he.slot != 3 || !strings.Contains(err.Error(), "HSM slot 3 is locked") {
		t.Fatalf("want the signer's error inside ErrSigner, got %v", err)
	}
}

// A Go token provider is told the CSR's fingerprint (SHA-256 of its DER, base64url without
// padding, also for a PEM CSR) and the notAfter asked for; a revoke token neither.
func TestProviderSeesTheCSRFingerprintAndNotAfter(t *testing.T) {
	base := newClient(t)
	jwk, err := stepca.FetchJWKProvisioner(base, "admin", "", password(t))
	if err != nil {
		t.Fatal(err)
	}
	defer jwk.Close()
	var seen []stepca.Claims
	client := newClient(t, stepca.WithTokenProvider(func(c stepca.Claims) (string, error) {
		seen = append(seen, c)
		if c.Purpose == stepca.PurposeRevoke {
			return jwk.RevokeToken(c.Subject, c.Audience)
		}
		return jwk.SignToken(c.Subject, c.SANs, c.Audience)
	}))
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	der := csrFor(t, key, "go-fp.example.com", "go-fp.example.com")
	sum := sha256.Sum256(der)
	fp := base64.RawURLEncoding.EncodeToString(sum[:])
	notAfter := time.Now().Add(time.Hour).Truncate(time.Second)
	pemCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	chain, err := client.Sign(pemCSR, stepca.WithValidity(time.Time{}, notAfter))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Sign(der); err != nil {
		t.Fatal(err)
	}
	if err := client.Revoke(chain.Leaf().SerialNumber.String()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("provider asked %d times", len(seen))
	}
	if seen[0].CSRFingerprint != fp || !seen[0].NotAfter.Equal(notAfter) {
		t.Fatalf("PEM CSR with a notAfter: told %q %v, want %q %v", seen[0].CSRFingerprint, seen[0].NotAfter, fp, notAfter)
	}
	if seen[1].CSRFingerprint != fp || !seen[1].NotAfter.IsZero() {
		t.Fatalf("DER CSR without a notAfter: told %q %v", seen[1].CSRFingerprint, seen[1].NotAfter)
	}
	if seen[2].Purpose != stepca.PurposeRevoke || seen[2].CSRFingerprint != "" || !seen[2].NotAfter.IsZero() {
		t.Fatalf("revoke: told %+v", seen[2])
	}
}
