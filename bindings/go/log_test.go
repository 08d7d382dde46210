//go:build cgo

package stepca_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// lockedBuffer is an io.Writer that log records from several threads may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogRecordsReachSlogWithTheirTargetAndNoSecret(t *testing.T) {
	var out lockedBuffer
	logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := stepca.SetLogger(logger); err != nil {
		t.Fatal(err)
	}
	defer stepca.SetLogger(nil)

	var token string
	client := newClient(t, stepca.WithTokenProvider(func(c stepca.Claims) (string, error) {
		tok, err := mint(c.Subject, c.SANs)
		token = tok
		return tok, err
	}))
	key, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	if _, err := client.Sign(csrFor(t, key, "go-log.example.com")); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		`level=DEBUG msg="sign: POST /1.0/sign" target=stepca::http`,
		`msg="sign: HTTP 201 after `,
		`target=rustls::`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	if len(token) < 40 || strings.Contains(text, token[len(token)-40:]) {
		t.Errorf("the token (%d bytes) is in the log", len(token))
	}
	// Trace records are asked for only when the logger wants them.
	if strings.Contains(text, "level=DEBUG-4") {
		t.Error("trace records reached a logger at LevelDebug")
	}

	if err := stepca.SetLogger(nil); err != nil {
		t.Fatal(err)
	}
	n := len(out.String())
	if err := client.Health(); err != nil {
		t.Fatal(err)
	}
	if len(out.String()) != n {
		t.Errorf("records after SetLogger(nil):\n%s", out.String()[n:])
	}
}
