package stepca_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

const softhsm = "/usr/lib/softhsm/libsofthsm2.so"

// The SoftHSM2 token all tests share. SoftHSM2 reads SOFTHSM2_CONF once, when the module
// is first initialised in the process, so one token directory serves every test.
const (
	hsmToken = "go-token"
	hsmPIN   = "2468"
)

var (
	hsmOnce sync.Once
	hsmDir  string
	hsmErr  error
	hsmSeq  atomic.Int64
)

// hsmLabel makes a key label unique in the shared token, also when tests run again
// (-count) in the same process.
func hsmLabel(name string) string { return fmt.Sprintf("%s-%d", name, hsmSeq.Add(1)) }

// softHSMToken makes the shared token on first use (removed by TestMain).
func softHSMToken(t *testing.T) {
	t.Helper()
	hsmOnce.Do(func() {
		if hsmDir, hsmErr = os.MkdirTemp("", "stepca-go-softhsm-"); hsmErr != nil {
			return
		}
		conf := filepath.Join(hsmDir, "softhsm2.conf")
		if hsmErr = os.MkdirAll(filepath.Join(hsmDir, "tokens"), 0o700); hsmErr != nil {
			return
		}
		if hsmErr = os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(hsmDir, "tokens")+"\nobjectstore.backend = file\n"), 0o600); hsmErr != nil {
			return
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", hsmToken, "--pin", hsmPIN, "--so-pin", "1357").CombinedOutput(); err != nil {
			hsmErr = fmt.Errorf("softhsm2-util: %v %s", err, out)
		}
	})
	if hsmErr != nil {
		t.Fatal(hsmErr)
	}
}

func TestKeysInASoftHSMToken(t *testing.T) {
	softHSMToken(t)
	client := newClient(t, stepca.WithTokenProvider(mintingProvider))
	var first string
	for i, kt := range []stepca.KeyType{stepca.ECP256, stepca.RSA2048} {
		label := hsmLabel(fmt.Sprintf("go-key-%d", i))
		if first == "" {
			first = label
		}
		key, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, label, kt)
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
		cred, err := stepca.NewCredentialWithSigner(chain, key)
		if err != nil {
			t.Fatal(err)
		}
		renewed, err := client.Renew(cred, stepca.RenewToken)
		cred.Close()
		if err != nil {
			t.Fatal(err)
		}
		if renewed.Leaf().SerialNumber.Cmp(chain.Leaf().SerialNumber) == 0 {
			t.Fatal("not renewed")
		}
		again, err := stepca.OpenPKCS11Key(softhsm, hsmToken, hsmPIN, label)
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
	if _, err := stepca.OpenPKCS11Key(softhsm, hsmToken, "0000", first); !errors.Is(err, stepca.ErrKeyPassphrase) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := stepca.OpenPKCS11Key(softhsm, hsmToken, hsmPIN, "nope"); !errors.Is(err, stepca.ErrKey) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := stepca.OpenPKCS11Key("/nonexistent.so", hsmToken, hsmPIN, first); !errors.Is(err, stepca.ErrInvalidArgument) {
		t.Fatalf("missing module: %v", err)
	}
}
