package stepca_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// The renewer tests use certificates of 10 s, which the default schedule renews about every
// 5 s (step-ca backdates notBefore by a minute, and a fresh certificate waits for half of
// what is left).

func rootPool(t *testing.T) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(caRoot)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("no root in STEPCA_ROOT")
	}
	return pool
}

func serial(c *x509.Certificate) string { return c.SerialNumber.String() }

// nextEvent waits for the next event of one of kinds, failing on a RenewerFailed one.
func nextEvent(t *testing.T, ch <-chan stepca.RenewerEvent, within time.Duration, kinds ...stepca.RenewerEventKind) stepca.RenewerEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-ch:
			if e.Kind == stepca.RenewerFailed {
				t.Fatalf("renewal failed (attempt %d): %v", e.Attempt, e.Err)
			}
			for _, k := range kinds {
				if e.Kind == k {
					return e
				}
			}
			e.Credential.Close()
		case <-deadline:
			t.Fatalf("no %v event within %v", kinds, within)
		}
	}
}

// verifyFile checks that path holds a chain crypto/x509 verifies to the CA's root, and
// returns its leaf.
func verifyFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) < 2 {
		t.Fatalf("%s: %d certificates, want the leaf and the intermediate", path, len(certs))
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: rootPool(t), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return certs[0]
}

// tlsServer accepts TLS connections with cfg until the test ends; after each handshake it
// writes the serial of the client's certificate ("none" without one) and closes.
func tlsServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				seen := "none"
				if p := tc.ConnectionState().PeerCertificates; len(p) > 0 {
					seen = serial(p[0])
				}
				fmt.Fprintln(tc, seen)
			}()
		}
	}()
	return ln.Addr().String()
}

// dial connects to a tlsServer and returns the server's leaf and what it saw of the client.
func dial(t *testing.T, addr string, cfg *tls.Config) (*x509.Certificate, string) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	return c.ConnectionState().PeerCertificates[0], strings.TrimSpace(line)
}

// An mTLS server's own certificate, self-signed: the client does not check it here.
func serverCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return tls.Certificate{Certificate: [][]byte{selfSigned(t, k).Leaf().Raw}, PrivateKey: k}
}

// A key in memory renewed three times in a row: each chain on disk before its event and
// verifying to the root, each served by one TLS listener started before the first renewal
// (GetCertificate) and presented to an mTLS server (GetClientCertificate).
func TestRenewerRenewsServesAndPresentsEachCertificate(t *testing.T) {
	t.Parallel()
	client := mintingClient(t)
	const cn = "go-renewer.example.com"
	key, err := stepca.GenerateKey(stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	cred := credential(t, enrollGo(t, client, key, cn, 10*time.Second), key)
	dir := t.TempDir()
	certPath := filepath.Join(dir, "device.crt")
	events := make(chan stepca.RenewerEvent, 64)
	r, err := stepca.NewRenewer(client, cred,
		stepca.WithFiles(certPath, filepath.Join(dir, "device.key")),
		stepca.WithRetry(300*time.Millisecond, 2*time.Second),
		stepca.WithEventChannel(events))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	server := tlsServer(t, &tls.Config{GetCertificate: r.GetCertificate})
	mtls := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{serverCertificate(t)}, ClientAuth: tls.RequireAnyClientCert})
	clientCfg := &tls.Config{RootCAs: rootPool(t), ServerName: cn}
	mtlsCfg := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: r.GetClientCertificate}

	first := serial(cred.Chain().Leaf())
	served, _ := dial(t, server, clientCfg)
	if serial(served) != first {
		t.Fatalf("served %s before any renewal, want the first certificate %s", serial(served), first)
	}
	if _, seen := dial(t, mtls, mtlsCfg); seen != first {
		t.Fatalf("the mTLS server saw %s, want %s", seen, first)
	}

	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	seenSerials := map[string]bool{first: true}
	servedSerials := map[string]bool{serial(served): true}
	var last *stepca.Credential
	for i := 0; i < 3; i++ {
		sched := nextEvent(t, events, 30*time.Second, stepca.RenewerScheduled, stepca.RenewerRenewed)
		if sched.Kind != stepca.RenewerScheduled || sched.At.IsZero() || sched.Credential != nil || sched.Err != nil {
			t.Fatalf("renewal %d: want a RenewerScheduled event with At first, got %+v", i+1, sched)
		}
		e := nextEvent(t, events, 30*time.Second, stepca.RenewerRenewed, stepca.RenewerScheduled)
		if e.Kind != stepca.RenewerRenewed || e.Credential == nil || e.Rekeyed || e.Err != nil {
			t.Fatalf("renewal %d: want a RenewerRenewed event, got %+v", i+1, e)
		}
		leaf := e.Credential.Chain().Leaf()
		s := serial(leaf)
		if seenSerials[s] {
			t.Fatalf("renewal %d: serial %s seen before", i+1, s)
		}
		seenSerials[s] = true
		if leaf.Subject.CommonName != cn || !samePublic(leaf.PublicKey, cred.Chain().Leaf().PublicKey) {
			t.Fatalf("renewal %d: CN %q or another key", i+1, leaf.Subject.CommonName)
		}
		if onDisk := verifyFile(t, certPath); serial(onDisk) != s {
			t.Fatalf("renewal %d: %s on disk, the event says %s", i+1, serial(onDisk), s)
		}
		// The same listener serves the renewed certificate; the mTLS server sees it.
		served, _ := dial(t, server, clientCfg)
		servedSerials[serial(served)] = true
		if serial(served) != s {
			t.Fatalf("renewal %d: the listener served %s, want %s", i+1, serial(served), s)
		}
		if _, seen := dial(t, mtls, mtlsCfg); seen != s {
			t.Fatalf("renewal %d: the mTLS server saw %s, want %s", i+1, seen, s)
		}
		if last != nil {
			last.Close()
		}
		last = e.Credential
	}
	if len(servedSerials) < 2 {
		t.Fatalf("the listener served %d certificates", len(servedSerials))
	}
	cur, err := r.Credential()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if serial(cur.Chain().Leaf()) != serial(last.Chain().Leaf()) {
		t.Fatalf("Credential() is %s, the last event's %s", serial(cur.Chain().Leaf()), serial(last.Chain().Leaf()))
	}

	start := time.Now()
	r.Stop()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Stop took %v", d)
	}
	// The event's credential is the caller's: it renews on its own after the renewer is
	// gone.
	r.Close()
	renewed, err := client.Renew(last, stepca.RenewMTLS)
	if err != nil {
		t.Fatalf("renewing the event's credential after Close: %v", err)
	}
	renewedFrom(t, renewed, last.Chain())
	last.Close()
}

func samePublic(a, b crypto.PublicKey) bool {
	return a.(interface{ Equal(crypto.PublicKey) bool }).Equal(b)
}

// A key in a SoftHSM2 token: renewed over mutual TLS, rekeyed to a key a function
// generates in the same token, and renewed with that one; GetCertificate signs each
// handshake in the token, also after the caller closed the HeldKey.
func TestRenewerHeldKeyRenewsAndRekeysInTheToken(t *testing.T) {
	softHSMToken(t)
	t.Parallel()
	client := mintingClient(t)
	const cn = "go-renewer-held.example.com"
	key, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-renewer"), stepca.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := key.CreateCSR(&stepca.CSRRequest{Subject: []stepca.Attribute{{Name: "CN", Value: cn}}, DNSNames: []string{cn}}, stepca.DER)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := client.Sign(csr, stepca.WithValidity(time.Time{}, time.Now().Add(10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	cred := signerCredential(t, chain, key)
	key.Close() // the credential keeps its own share, for libstepca and for crypto/tls

	var generated []*stepca.HeldKey
	var genMu sync.Mutex
	events := make(chan stepca.RenewerEvent, 64)
	r, err := stepca.NewRenewer(client, cred,
		stepca.WithRekey(2, func() (crypto.Signer, error) {
			k, err := stepca.GeneratePKCS11Key(softhsm, hsmToken, hsmPIN, hsmLabel("go-renewer-next"), stepca.ECP256)
			if err == nil {
				genMu.Lock()
				generated = append(generated, k)
				genMu.Unlock()
			}
			return k, err
		}),
		stepca.WithRetry(300*time.Millisecond, 2*time.Second),
		stepca.WithEventChannel(events))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	server := tlsServer(t, &tls.Config{GetCertificate: r.GetCertificate})
	clientCfg := &tls.Config{RootCAs: rootPool(t), ServerName: cn}
	if served, _ := dial(t, server, clientCfg); serial(served) != serial(chain.Leaf()) {
		t.Fatalf("served %s, want %s", serial(served), serial(chain.Leaf()))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	pub := chain.Leaf().PublicKey
	var last *stepca.Credential
	for i, wantRekey := range []bool{false, true, false} {
		e := nextEvent(t, events, 30*time.Second, stepca.RenewerRenewed)
		leaf := e.Credential.Chain().Leaf()
		if e.Rekeyed != wantRekey || samePublic(leaf.PublicKey, pub) == wantRekey {
			t.Fatalf("renewal %d: rekeyed %v (want %v), or the key did not change with it", i+1, e.Rekeyed, wantRekey)
		}
		if wantRekey {
			genMu.Lock()
			if len(generated) != 1 || !samePublic(generated[0].Public(), leaf.PublicKey) {
				t.Fatalf("the new key is not the one generated (%d generated)", len(generated))
			}
			genMu.Unlock()
		}
		pub = leaf.PublicKey
		if served, _ := dial(t, server, clientCfg); serial(served) != serial(leaf) {
			t.Fatalf("renewal %d: served %s, want %s", i+1, serial(served), serial(leaf))
		}
		if last != nil {
			last.Close()
		}
		last = e.Credential
	}
	start := time.Now()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run returned %v after the cancel", d)
	}
	// The generated key outlives the renewer in the credential given out.
	r.Close()
	if _, err := client.Renew(last, stepca.RenewMTLS); err != nil {
		t.Fatalf("renewing with the generated key after Close: %v", err)
	}
	tc, err := last.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	if _, err := tc.PrivateKey.(crypto.Signer).Sign(rand.Reader, digest, crypto.SHA256); err != nil {
		t.Fatalf("signing with the generated key after Close: %v", err)
	}
	last.Close()
}

// closingSigner is a Go signer that counts its Close calls.
type closingSigner struct {
	crypto.Signer
	closed *atomic.Int32
}

func (s closingSigner) Close() error { s.closed.Add(1); return nil }

// The new key function's failures come back inside ErrSigner, and a key whose rekey the
// CA refused is closed by the renewer. No CA certificate is needed: the renewer never
// gets a renewal through.
func TestRenewerNewKeyFailures(t *testing.T) {
	t.Parallel()
	client := newClient(t)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cred := signerCredential(t, selfSigned(t, signer), signer)
	errHSM := errors.New("the HSM is full")
	var calls, closed atomic.Int32
	events := make(chan stepca.RenewerEvent, 64)
	r, err := stepca.NewRenewer(client, cred,
		stepca.WithRenewPeriod(time.Hour),
		stepca.WithRetry(100*time.Millisecond, 200*time.Millisecond),
		stepca.WithRekey(1, func() (crypto.Signer, error) {
			if calls.Add(1) == 1 {
				return nil, errHSM
			}
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return closingSigner{Signer: k, closed: &closed}, nil
		}),
		stepca.WithEventFunc(func(e stepca.RenewerEvent) {
			e.Credential.Close()
			select {
			case events <- e:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.RenewNow(); err != nil {
		t.Fatal(err)
	}
	var first error
	deadline := time.After(20 * time.Second)
	for first == nil {
		select {
		case e := <-events:
			if e.Kind == stepca.RenewerFailed {
				first = e.Err
			}
		case <-deadline:
			t.Fatal("no failure")
		}
	}
	var se *stepca.Error
	if !errors.Is(first, stepca.ErrSigner) || !errors.Is(first, errHSM) || !errors.As(first, &se) || !strings.HasPrefix(se.Message, "new_key:") || !strings.Contains(se.Message, errHSM.Error()) {
		t.Fatalf("first failure: %v", first)
	}
	t.Logf("the new key function's failure: %v", first)
	// Later attempts get a key, whose rekey the CA refuses (a self-signed certificate):
	// each such key is closed.
	for closed.Load() < 1 {
		select {
		case <-deadline:
			t.Fatalf("the keys of refused rekeys were not closed (%d made)", calls.Load()-1)
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.Stop()
}

// Run returns within a second of its context's end, Stop and Close do too, and Close is
// idempotent, safe from many goroutines and final.
func TestRenewerRunStopAndClose(t *testing.T) {
	t.Parallel()
	client := mintingClient(t)
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	cred := credential(t, enrollGo(t, client, key, "go-renewer-run.example.com", time.Hour), key)
	scheduled := make(chan time.Time, 16)
	r, err := stepca.NewRenewer(client, cred, stepca.WithEventFunc(func(e stepca.RenewerEvent) {
		if e.Kind == stepca.RenewerScheduled {
			select {
			case scheduled <- e.At:
			default:
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		select {
		case at := <-scheduled:
			// Two thirds into 61 minutes (an hour and the minute's backdate), less up to a
			// twentieth: 36 to 40 minutes from now.
			if left := time.Until(at); left < 35*time.Minute || left > 41*time.Minute {
				t.Fatalf("scheduled in %v", left)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no RenewerScheduled event")
		}
		if err := r.Start(); !errors.Is(err, stepca.ErrInvalidArgument) {
			t.Fatalf("Start while running: %v", err)
		}
		start := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Run returned %v after the cancel", d)
		}
	}

	// Close while Run runs: Run returns ErrClosed. Before that, Replace: the renewer
	// schedules from the new credential and serves it at once.
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	<-scheduled
	other := credential(t, enrollGo(t, client, key, "go-renewer-run.example.com", 2*time.Hour), key)
	if err := r.Replace(other); err != nil {
		t.Fatal(err)
	}
	want := serial(other.Chain().Leaf())
	if got, err := r.GetCertificate(nil); err != nil || serial(got.Leaf) != want {
		t.Fatalf("GetCertificate after Replace: %v", err)
	}
	if cur, err := r.Credential(); err != nil || serial(cur.Chain().Leaf()) != want {
		t.Fatalf("Credential after Replace: %v", err)
	} else {
		cur.Close()
	}
	select {
	case at := <-scheduled:
		// Two thirds into 121 minutes less up to a twentieth, from a notBefore a minute
		// ago: 73.6 to 79.7 minutes from now (the 1-hour one was due in under 41).
		if left := time.Until(at); left < 73*time.Minute || left > 80*time.Minute {
			t.Fatalf("scheduled in %v after Replace with a 2-hour certificate", left)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no RenewerScheduled event after Replace")
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); r.Close() }()
	}
	wg.Wait()
	select {
	case err := <-done:
		if !errors.Is(err, stepca.ErrClosed) {
			t.Fatalf("Run after Close: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return after Close")
	}
	r.Close()
	r.Stop()
	if err := r.Start(); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := r.RenewNow(); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("RenewNow after Close: %v", err)
	}
	if _, err := r.Credential(); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("Credential after Close: %v", err)
	}
	if err := r.Replace(cred); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("Replace after Close: %v", err)
	}
	if _, err := r.GetCertificate(nil); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("GetCertificate after Close: %v", err)
	}
	if err := r.Run(context.Background()); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

// A failed write is reported with ErrIO naming the path, the renewed certificate is served
// all the same, and the write is retried until it succeeds.
func TestRenewerWriteFailureIsRetried(t *testing.T) {
	t.Parallel()
	client := mintingClient(t)
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	cred := credential(t, enrollGo(t, client, key, "go-renewer-io.example.com", time.Hour), key)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "certs")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil { // a file where the directory should be
		t.Fatal(err)
	}
	certPath := filepath.Join(blocker, "device.crt")
	events := make(chan stepca.RenewerEvent, 64)
	r, err := stepca.NewRenewer(client, cred, stepca.WithFiles(certPath, ""),
		stepca.WithRetry(200*time.Millisecond, 400*time.Millisecond), stepca.WithEventChannel(events))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	r.RenewNow()
	e := nextEvent(t, events, 20*time.Second, stepca.RenewerWriteFailed)
	if !errors.Is(e.Err, stepca.ErrIO) || !strings.Contains(e.Err.Error(), "device.crt") || e.Credential == nil || e.At.IsZero() {
		t.Fatalf("write failure: %+v", e)
	}
	t.Logf("write failure: %v", e.Err)
	s := serial(e.Credential.Chain().Leaf())
	if s == serial(cred.Chain().Leaf()) {
		t.Fatal("the write failure carries the old certificate")
	}
	got, err := r.GetCertificate(nil)
	if err != nil || serial(got.Leaf) != s {
		t.Fatalf("GetCertificate: %v", err)
	}
	e.Credential.Close()
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	e = nextEvent(t, events, 20*time.Second, stepca.RenewerRenewed)
	if serial(e.Credential.Chain().Leaf()) != s || serial(verifyFile(t, certPath)) != s {
		t.Fatal("the certificate written is not the one renewed")
	}
	e.Credential.Close()
}

// Options and settings that cannot work come back as ErrInvalidArgument naming the field.
func TestRenewerArgumentErrors(t *testing.T) {
	client := newClient(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	chain := selfSigned(t, ec)
	held := signerCredential(t, chain, ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	key, err := stepca.LoadKey(pkcs8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	memory := credential(t, chain, key)
	names := func(t *testing.T, err error, field string) {
		t.Helper()
		var se *stepca.Error
		if !errors.Is(err, stepca.ErrInvalidArgument) || !errors.As(err, &se) || !strings.HasPrefix(se.Message, field+":") {
			t.Fatalf("want ErrInvalidArgument naming %q, got %v", field, err)
		}
	}
	for _, tc := range []struct {
		field string
		opt   stepca.RenewerOption
	}{
		{"expires_in", stepca.WithExpiresIn(0)},
		{"expires_in", stepca.WithExpiresIn(500 * time.Millisecond)},
		{"renew_period", stepca.WithRenewPeriod(-time.Second)},
		{"retry_min", stepca.WithRetry(0, time.Second)},
		{"retry_max", stepca.WithRetry(2*time.Second, time.Second)},
		{"rekey_every", stepca.WithRekey(-1, nil)},
	} {
		_, err := stepca.NewRenewer(client, memory, tc.opt)
		names(t, err, tc.field)
	}
	_, err = stepca.NewRenewer(nil, memory)
	names(t, err, "client")
	_, err = stepca.NewRenewer(client, nil)
	names(t, err, "credential")

	// Settings that cannot work together are refused by Start and Run.
	r, err := stepca.NewRenewer(client, held, stepca.WithRekey(3, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	names(t, r.Start(), "new_key")
	names(t, r.Run(context.Background()), "new_key")
	r2, err := stepca.NewRenewer(client, memory, stepca.WithRekey(3, nil), stepca.WithFiles(filepath.Join(t.TempDir(), "c.crt"), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	names(t, r2.Start(), "key_file")

	// A closed credential cannot be given.
	closedCred, err := stepca.NewCredential(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	closedCred.Close()
	if _, err := stepca.NewRenewer(client, closedCred); !errors.Is(err, stepca.ErrClosed) {
		t.Fatalf("closed credential: %v", err)
	}
}
