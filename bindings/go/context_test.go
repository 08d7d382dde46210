package stepca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// silentServer accepts TCP connections and never answers: a call to it is stuck on the
// wire until the client's timeout. It counts the connections it accepted.
type silentServer struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
}

func newSilentServer(t *testing.T) *silentServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

// The bounds the tests hold the package to.
const (
	callTimeout = 3 * time.Second        // the client's call timeout in these tests
	ctxBound    = 500 * time.Millisecond // a method returns within this of its context ending
)

// silentClient is a client of s, trusting a root that nothing presents (the handshake
// never gets that far).
func silentClient(t *testing.T, s *silentServer) *stepca.Client {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain := selfSigned(t, k)
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain.Leaf().Raw})
	c, err := stepca.NewClient("https://"+s.ln.Addr().String(), stepca.WithRootPEM(root),
		stepca.WithTimeouts(time.Second, callTimeout), stepca.WithRetries(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A call stuck behind a silent server returns the context's error within ctxBound of the
// context ending (a deadline or a cancel), far before the client's call timeout.
func TestContextEndsACallStuckOnTheWire(t *testing.T) {
	s := newSilentServer(t)
	c := silentClient(t, s)
	k, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	csr := csrFor(t, k, "stuck.example.com", "stuck.example.com")
	calls := map[string]func(context.Context) error{
		"Sign": func(ctx context.Context) error {
			_, err := c.SignContext(ctx, csr, stepca.WithToken("a-token"))
			return err
		},
		"Health": c.HealthContext,
		"Roots": func(ctx context.Context) error {
			_, err := c.RootsContext(ctx)
			return err
		},
		"Revoke": func(ctx context.Context) error {
			return c.RevokeContext(ctx, "1234", stepca.WithRevokeToken("a-token"))
		},
		"FetchJWKProvisioner": func(ctx context.Context) error {
			_, err := stepca.FetchJWKProvisionerContext(ctx, c, "p", "", []byte("pw"))
			return err
		},
	}
	for name, call := range calls {
		t.Run(name+"/deadline", func(t *testing.T) {
			before := s.accepted.Load()
			const after = 300 * time.Millisecond
			// The clock starts before the deadline is set, so that the deadline cannot
			// fall less than `after` from start (it did by 0.8 ms under -race).
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), after)
			defer cancel()
			err := call(ctx)
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
			if took < after || took > after+ctxBound {
				t.Fatalf("returned after %v, want %v..%v", took, after, after+ctxBound)
			}
			// It was on the wire: the request had reached the server, which is silent.
			if s.accepted.Load() == before {
				t.Fatal("the server saw no connection: the call was not stuck on the wire")
			}
		})
		t.Run(name+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			const after = 200 * time.Millisecond
			timer := time.AfterFunc(after, cancel)
			defer timer.Stop()
			start := time.Now()
			err := call(ctx)
			if took := time.Since(start); took > after+ctxBound {
				t.Fatalf("returned %v after the call began, want at most %v", took, after+ctxBound)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
}

// A context done before the call sends nothing, and the token provider is not asked.
func TestContextDoneBeforeTheCallSendsNothing(t *testing.T) {
	s := newSilentServer(t)
	asked := false
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, k).Leaf().Raw})
	c, err := stepca.NewClient("https://"+s.ln.Addr().String(), stepca.WithRootPEM(root),
		stepca.WithTokenProvider(func(stepca.Claims) (string, error) { asked = true; return "t", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.SignContext(ctx, csrFor(t, key, "x.example.com", "x.example.com")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sign: err = %v, want context.Canceled", err)
	}
	if err := c.HealthContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Health: err = %v, want context.Canceled", err)
	}
	if _, err := stepca.NewClientContext(ctx, "https://"+s.ln.Addr().String(), stepca.WithRootPEM(root)); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewClientContext: err = %v, want context.Canceled", err)
	}
	time.Sleep(100 * time.Millisecond) // a connection, had one been made, is accepted by now
	if n := s.accepted.Load(); n != 0 {
		t.Fatalf("the server saw %d connections", n)
	}
	if asked {
		t.Fatal("the token provider was asked")
	}
}

// The call abandoned by its context still ends within the client's call timeout: Close,
// which waits for it, returns within that bound.
func TestAbandonedCallEndsWithinTheCallTimeout(t *testing.T) {
	s := newSilentServer(t)
	c := silentClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.HealthContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	c.Close()
	if took := time.Since(start); took > callTimeout+time.Second {
		t.Fatalf("Close returned %v after the call began, want at most the call timeout %v (+1 s)", took, callTimeout)
	}
}

// Background (no cancellation) runs the plain path: a call to a silent server ends with
// the client's own timeouts (here the 1 s connect timeout covers the stalled TLS
// handshake).
func TestContextWithoutDeadlineKeepsTheClientsTimeout(t *testing.T) {
	s := newSilentServer(t)
	c := silentClient(t, s)
	start := time.Now()
	err := c.HealthContext(context.Background())
	took := time.Since(start)
	// libstepca reports the stalled handshake as a transport failure ("timeout: connect").
	if !errors.Is(err, stepca.ErrTimeout) && !errors.Is(err, stepca.ErrTransport) {
		t.Fatalf("err = %v, want ErrTimeout or ErrTransport", err)
	}
	if took > callTimeout+time.Second {
		t.Fatalf("took %v, want at most %v", took, callTimeout+time.Second)
	}
}
