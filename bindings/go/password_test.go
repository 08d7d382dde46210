package stepca_test

import (
	"os"
	"path/filepath"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPasswordFileTrimsTheTrailingNewline(t *testing.T) {
	for content, want := range map[string]string{
		"secret":         "secret",
		"secret\n":       "secret",
		"secret\r\n":     "secret",
		"secret \t\n\n":  "secret", // as step: all trailing white space
		" secret\n":      " secret",
		"se cret\n":      "se cret",
		"\n":             "",
		"\ufeffsecret\n": "secret", // a UTF-8 byte-order mark, as step skips it
	} {
		got, err := stepca.ReadPasswordFile(writeFile(t, content))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("ReadPasswordFile(%q) = %q, want %q", content, got, want)
		}
	}
	if _, err := stepca.ReadPasswordFile(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v, want a not-exist error", err)
	}
}

// A provisioner password file ending in a newline (\n, \r\n) decrypts the provisioner at
// the real CA; the password with the newline kept does not.
func TestPasswordFileWithANewlineFetchesTheProvisioner(t *testing.T) {
	c := newClient(t)
	pw, err := stepca.ReadPasswordFile(passwordFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, nl := range []string{"\n", "\r\n"} {
		p, err := stepca.ReadPasswordFile(writeFile(t, string(pw)+nl))
		if err != nil {
			t.Fatal(err)
		}
		prov, err := stepca.FetchJWKProvisioner(c, "admin", "", p)
		if err != nil {
			t.Fatalf("password file ending in %q: %v", nl, err)
		}
		prov.Close()
		raw, _ := os.ReadFile(writeFile(t, string(pw)+nl))
		if _, err := stepca.FetchJWKProvisioner(c, "admin", "", raw); err == nil {
			t.Fatalf("the password with %q kept was accepted: the test proves nothing", nl)
		}
	}
}
