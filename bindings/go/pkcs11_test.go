package stepca_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

const softhsm = "/usr/lib/softhsm/libsofthsm2.so"

func TestKeysInASoftHSMToken(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "go-token", "--pin", "2468", "--so-pin", "1357").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v %s", err, out)
	}
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	for i, kt := range []stepca.KeyType{stepca.ECP256, stepca.RSA2048} {
		label := fmt.Sprintf("go-key-%d", i)
		key, err := stepca.GeneratePKCS11Key(softhsm, "go-token", "2468", label, kt)
		if err != nil {
			t.Fatal(err)
		}
		cn := fmt.Sprintf("go-hsm-%d.example.com", i)
		csr, err := key.CreateCSR(&stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}, DNSNames: []string{cn}}, stepca.DER)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := x509.ParseCertificateRequest(csr)
		if err != nil || parsed.CheckSignature() != nil {
			t.Fatalf("CSR: %v", err)
		}
		chain, err := client.Sign(csr)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, chain, csr)
		renewed, err := client.RenewWithHeldKey(chain, key)
		if err != nil {
			t.Fatal(err)
		}
		if renewed.Leaf().SerialNumber.Cmp(chain.Leaf().SerialNumber) == 0 {
			t.Fatal("not renewed")
		}
		again, err := stepca.OpenPKCS11Key(softhsm, "go-token", "2468", label)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := again.PublicKeyDER()
		b, _ := key.PublicKeyDER()
		if string(a) != string(b) {
			t.Fatal("reopened key differs")
		}
		again.Close()
		key.Close()
		key.Close()
	}
	if _, err := stepca.OpenPKCS11Key(softhsm, "go-token", "0000", "go-key-0"); !errors.Is(err, stepca.ErrKeyPassphrase) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := stepca.OpenPKCS11Key(softhsm, "go-token", "2468", "nope"); !errors.Is(err, stepca.ErrKey) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := stepca.OpenPKCS11Key("/nonexistent.so", "go-token", "2468", "go-key-0"); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("missing module: %v", err)
	}
}
