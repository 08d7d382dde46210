package stepca_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

func password(t *testing.T) []byte {
	t.Helper()
	b, err := stepca.ReadPasswordFile(passwordFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mintingClient mints tokens in process with the admin JWK provisioner.
func mintingClient(t *testing.T) *stepca.Client {
	t.Helper()
	base := newClient(t)
	prov, err := stepca.FetchJWKProvisioner(base, "admin", "", password(t))
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close() // the client keeps its own reference
	return newClient(t, stepca.WithJWKProvisioner(prov))
}

func enrollGo(t *testing.T, c *stepca.Client, key *stepca.Key, cn string, d time.Duration) *stepca.Chain {
	t.Helper()
	chain, err := c.Sign(csrFor(t, key, cn, cn), stepca.WithValidity(time.Time{}, time.Now().Add(d)))
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

// credential pairs chain with its key in memory, closed when the test ends.
func credential(t *testing.T, chain *stepca.Chain, key *stepca.Key) *stepca.Credential {
	t.Helper()
	cred, err := stepca.NewCredential(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cred.Close() })
	return cred
}

func TestBootstrapAndReadOnlyCalls(t *testing.T) {
	needCA(t)
	fp := os.Getenv("STEPCA_FINGERPRINT")
	var colons []string
	for i := 0; i < len(fp); i += 2 {
		colons = append(colons, strings.ToUpper(fp[i:i+2]))
	}
	c, err := stepca.NewClient(caURL, stepca.WithRootFingerprint(strings.Join(colons, ":")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Health(); err != nil {
		t.Fatal(err)
	}
	trusted, _ := c.TrustedRoots()
	want, _ := os.ReadFile(caRoot)
	if !bytes.Equal(trusted, want) {
		t.Fatal("bootstrapped root differs from the CA's root file")
	}
	if _, err := stepca.NewClient(caURL, stepca.WithRootFingerprint(strings.Repeat("ab", 32))); !errors.Is(err, stepca.ErrFingerprint) {
		t.Fatalf("want ErrFingerprint, got %v", err)
	}
	if v, err := c.Version(); err != nil || v != "N/A" {
		t.Fatalf("version %q %v", v, err)
	}
	roots, err := c.Roots()
	if err != nil || len(roots) != 1 || !roots[0].IsCA {
		t.Fatalf("roots %v %v", roots, err)
	}
	fed, _ := c.Federation()
	inter, _ := c.Intermediates()
	if len(fed) < 1 || len(inter) != 1 || inter[0].CheckSignatureFrom(roots[0]) != nil {
		t.Fatal("federation or intermediates wrong")
	}
	provs, err := c.Provisioners()
	if err != nil || len(provs) != 3 { // admin, strict, factory (X5C)
		t.Fatalf("provisioners %d %v", len(provs), err)
	}
	var p struct{ Name, Type string }
	_ = json.Unmarshal(provs[0], &p)
	if p.Name != "admin" || !strings.EqualFold(p.Type, "JWK") {
		t.Fatalf("first provisioner %+v", p)
	}
}

func TestInProcessTokens(t *testing.T) {
	base := newClient(t)
	if _, err := stepca.FetchJWKProvisioner(base, "admin", "", []byte("nope")); !errors.Is(err, stepca.ErrKeyPassphrase) {
		t.Fatalf("want ErrKeyPassphrase, got %v", err)
	}
	// Offline from the ca.json entry.
	cfg, _ := os.ReadFile(os.Getenv("STEPCA_CONFIG"))
	var ca struct {
		Authority struct{ Provisioners []json.RawMessage }
	}
	if err := json.Unmarshal(cfg, &ca); err != nil {
		t.Fatal(err)
	}
	prov, err := stepca.LoadJWKProvisioner(ca.Authority.Provisioners[0], "", password(t))
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	tok, err := prov.SignToken("go-mint.example.com", []string{"go-mint.example.com"}, caURL+"/1.0/sign")
	if err != nil {
		t.Fatal(err)
	}
	// step reads our token the way it reads its own.
	cmd := exec.Command("step", "crypto", "jwt", "inspect", "--insecure")
	cmd.Stdin = strings.NewReader(tok)
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"iss": "admin"`) {
		t.Fatalf("step inspect: %v %s", err, out)
	}
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	chain, err := base.Sign(csrFor(t, key, "go-mint.example.com", "go-mint.example.com"), stepca.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	verify(t, chain, csrFor(t, key, "x"))
}

func TestRenewRekeyRevoke(t *testing.T) {
	c := mintingClient(t)
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	chain := enrollGo(t, c, key, "go-life.example.com", time.Hour)
	due, err := chain.RenewAfter()
	life := chain.Leaf().NotAfter.Sub(chain.Leaf().NotBefore)
	if err != nil || due.After(chain.Leaf().NotAfter.Add(-life/3)) || due.Before(chain.Leaf().NotAfter.Add(-life/3-life/20)) {
		t.Fatalf("renew after %v (%v)", due, err)
	}
	cred := credential(t, chain, key)
	for _, auth := range []stepca.RenewAuth{stepca.RenewMTLS, stepca.RenewToken, stepca.RenewAuto} {
		renewed, err := c.Renew(cred, auth)
		if err != nil {
			t.Fatalf("%v: %v", auth, err)
		}
		if renewed.Leaf().SerialNumber.Cmp(chain.Leaf().SerialNumber) == 0 || renewed.Leaf().Subject.CommonName != "go-life.example.com" {
			t.Fatal("not a new certificate")
		}
		if d, _ := renewed.RenewAfter(); d.Before(time.Now().Add(30 * time.Minute)) {
			t.Fatalf("freshly renewed certificate due at %v", d)
		}
	}
	newKey, _ := stepca.GenerateKey(stepca.Ed25519)
	defer newKey.Close()
	csr, _ := stepca.CreateCSR(newKey, &stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: "go-life.example.com"}}}, stepca.DER)
	rekeyed, err := c.Rekey(cred, csr)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, rekeyed, csr)

	if err := c.Revoke(chain.Leaf().SerialNumber.String(), stepca.WithReason(1, "key compromise")); err != nil {
		t.Fatal(err)
	}
	var se *stepca.Error
	if _, err := c.Renew(cred, stepca.RenewMTLS); !errors.As(err, &se) || se.HTTPStatus != 401 {
		t.Fatalf("revoked certificate renewed: %v", err)
	}
	next := credential(t, rekeyed, newKey)
	if err := c.RevokeWithCertificate(next); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Renew(next, stepca.RenewToken); !errors.Is(err, stepca.ErrCARejected) {
		t.Fatalf("want rejection, got %v", err)
	}
	if err := c.Revoke("1", stepca.WithReason(11, "")); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
}

func TestRevokeThroughAGoProvider(t *testing.T) {
	base := newClient(t)
	prov, err := stepca.FetchJWKProvisioner(base, "admin", "", password(t))
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	var seen stepca.Claims
	c := newClient(t, stepca.WithTokenProvider(func(cl stepca.Claims) (string, error) {
		seen = cl
		if cl.Purpose == stepca.PurposeRevoke {
			return prov.RevokeToken(cl.Subject, cl.Audience)
		}
		return prov.SignToken(cl.Subject, cl.SANs, cl.Audience)
	}))
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	chain := enrollGo(t, c, key, "go-rev.example.com", time.Hour)
	if err := c.Revoke(fmt.Sprintf("0x%x", chain.Leaf().SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if seen.Purpose != stepca.PurposeRevoke || seen.Subject != chain.Leaf().SerialNumber.String() || seen.Audience != caURL+"/1.0/revoke" {
		t.Fatalf("revoke claims %+v", seen)
	}
	errGone := errors.New("token store gone")
	c2 := newClient(t, stepca.WithTokenProvider(func(stepca.Claims) (string, error) { return "", errGone }))
	if err := c2.Revoke("12345"); !errors.Is(err, errGone) {
		t.Fatalf("want the provider's error, got %v", err)
	}
}
