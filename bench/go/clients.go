package main

// The Go clients a user would pick instead of libstepca, each doing what libstepca's bench
// does per certificate:
//
//   - "go": a Go client as a Go user writes it: a new P-256 key and its CSR (crypto/x509)
//     per enrollment, net/http with kept-alive connections, the returned chain parsed and
//     verified up to the root with x509.Certificate.Verify, the leaf's key checked.
//   - "go-caclient": smallstep's own client, github.com/smallstep/certificates/ca at the
//     step-ca version the rig runs: ca.Client.Sign, Renew (mutual TLS) and RenewWithToken
//     (the x5cInsecure token `step ca renew --mtls=false` signs), ca.Provisioner for
//     in-process tokens in the batch.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallstep/certificates/api"
	"github.com/smallstep/certificates/ca"
	"go.step.sm/crypto/jose"
)

const cn = "bench.example.com"

func newKey(kty string) crypto.Signer {
	var k crypto.Signer
	var err error
	switch kty {
	case "rsa-2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	must(err)
	return k
}

func csrFor(key crypto.Signer, name string) *x509.CertificateRequest {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: name},
		DNSNames: []string{name},
	}, key)
	must(err)
	cr, err := x509.ParseCertificateRequest(der)
	must(err)
	return cr
}

func rootPool() *x509.CertPool {
	root, err := os.ReadFile(os.Getenv("STEPCA_ROOT"))
	must(err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(root) {
		must(errors.New("no root in STEPCA_ROOT"))
	}
	return pool
}

// verified parses a chain of PEM certificates, verifies it up to pool and checks that the
// leaf certifies key: what libstepca does with every chain it returns.
func verified(pems []string, pool *x509.CertPool, key crypto.Signer) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, p := range pems {
		b, _ := pem.Decode([]byte(p))
		if b == nil {
			return nil, errors.New("not PEM")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("empty chain")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, err
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if !certs[0].PublicKey.(eq).Equal(key.Public()) {
		return nil, errors.New("the leaf certifies another key")
	}
	return certs, nil
}

// run starts inflight workers that take indexes 0..n-1 and reports per second and CPU per
// success as one JSON line; setup (per worker, before the clock) may be nil.
func run(op, client, extra string, inflight, n int, setup func(w int) any, work func(state any, i int) error) {
	states := make([]any, inflight)
	for w := range states {
		if setup != nil {
			states[w] = setup(w)
		}
	}
	var next, failed int64
	pid := os.Getenv("STEPCA_PID")
	ca0, c0, t0 := procCPU(pid), cpu(), time.Now()
	var wg sync.WaitGroup
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func(state any) {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1) - 1)
				if i >= n {
					return
				}
				if err := work(state, i); err != nil {
					if atomic.AddInt64(&failed, 1) <= 3 {
						fmt.Fprintf(os.Stderr, "gobench %s %s: %v\n", op, client, err)
					}
				}
			}
		}(states[w])
	}
	wg.Wait()
	dt, c, cac := time.Since(t0).Seconds(), cpu()-c0, procCPU(pid)-ca0
	ok := float64(int64(n) - failed)
	fmt.Printf(`{"op":%q,"client":%q,%s"inflight":%d,"n":%d,"failed":%d,"per_s":%.1f,"client_cpu_us":%.1f,"ca_cpu_us":%.1f}`+"\n",
		op, client, extra, inflight, n, failed, ok/dt, float64(c.Microseconds())/ok, cac/ok*1e6)
	if failed > 0 {
		os.Exit(1)
	}
}

// enrollUser: the Go user's client (net/http, crypto/x509).
func enrollUser(inflight int, tokens []string, n int) {
	pool := rootPool()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: inflight,
		MaxIdleConns:        inflight,
	}}
	url := os.Getenv("STEPCA_URL") + "/1.0/sign"
	run("enroll", "go", `"key":"new",`, inflight, n, nil, func(_ any, i int) error {
		key := newKey("ec-p256")
		csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrFor(key, cn).Raw})
		body, _ := json.Marshal(map[string]string{"csr": string(csrPEM), "ott": tokens[i]})
		resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			io.Copy(io.Discard, resp.Body)
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		var out struct {
			CertChain []string `json:"certChain"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return err
		}
		_, err = verified(out.CertChain, pool, key)
		return err
	})
}

func caClient() *ca.Client {
	c, err := ca.NewClient(os.Getenv("STEPCA_URL"), ca.WithRootFile(os.Getenv("STEPCA_ROOT")))
	must(err)
	return c
}

func caSign(c *ca.Client, key crypto.Signer, name, token string) ([]*x509.Certificate, error) {
	resp, err := c.Sign(&api.SignRequest{CsrPEM: api.CertificateRequest{CertificateRequest: csrFor(key, name)}, OTT: token})
	if err != nil {
		return nil, err
	}
	return chainOf(resp), nil
}

func chainOf(resp *api.SignResponse) []*x509.Certificate {
	var certs []*x509.Certificate
	for _, c := range resp.CertChainPEM {
		certs = append(certs, c.Certificate)
	}
	return certs
}

// enrollCAClient: ca.Client.Sign with a new key per enrollment, as its users write it (the
// returned chain is taken as the CA sent it).
func enrollCAClient(inflight int, tokens []string, n int) {
	c := caClient()
	run("enroll", "go-caclient", `"key":"new",`, inflight, n, nil, func(_ any, i int) error {
		_, err := caSign(c, newKey("ec-p256"), cn, tokens[i])
		return err
	})
}

type device struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

// renewToken is the token `step ca renew --mtls=false` signs: the certificate's key signs
// claims for /renew with the chain in the x5cInsecure header.
func renewToken(d *device, caURL string) (string, error) {
	x5c := make([]string, len(d.chain))
	for i, c := range d.chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	so := new(jose.SignerOptions)
	so.WithType("JWT")
	so.WithHeader(jose.HeaderKey(jose.X5cInsecureKey), x5c)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: d.key}, so)
	if err != nil {
		return "", err
	}
	id := make([]byte, 16)
	rand.Read(id)
	now := time.Now()
	return jose.Signed(signer).Claims(jose.Claims{
		Issuer:    "step-ca-client/1.0",
		Subject:   d.chain[0].Subject.CommonName,
		Audience:  jose.Audience{caURL + "/renew"},
		NotBefore: jose.NewNumericDate(now),
		IssuedAt:  jose.NewNumericDate(now),
		Expiry:    jose.NewNumericDate(now.Add(5 * time.Minute)),
		ID:        fmt.Sprintf("%x", id),
	}).CompactSerialize()
}

// renewCAClient: each worker enrolls a device, then renews, each renewal's certificate the
// next one's credential. Over mutual TLS a renewal needs a transport with the current
// certificate (as `step ca renew` makes one), so a new TLS connection each time, as in
// libstepca's bench.
func renewCAClient(auth string, inflight int, tokens []string, n int) {
	c := caClient()
	pool := rootPool()
	caURL := strings.TrimSuffix(os.Getenv("STEPCA_URL"), "/")
	setup := func(w int) any {
		d := &device{key: newKey("ec-p256")}
		chain, err := caSign(c, d.key, cn, tokens[w])
		must(err)
		d.chain = chain
		return d
	}
	run("renew", "go-caclient", fmt.Sprintf(`"auth":%q,`, auth), inflight, n, setup, func(state any, _ int) error {
		d := state.(*device)
		var resp *api.SignResponse
		var err error
		if auth == "token" {
			var tok string
			if tok, err = renewToken(d, caURL); err != nil {
				return err
			}
			resp, err = c.RenewWithToken(tok)
		} else {
			cert := tls.Certificate{PrivateKey: d.key, Leaf: d.chain[0]}
			for _, x := range d.chain {
				cert.Certificate = append(cert.Certificate, x.Raw)
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}
			resp, err = c.Renew(tr)
			tr.CloseIdleConnections()
		}
		if err != nil {
			return err
		}
		d.chain = chainOf(resp)
		return nil
	})
}

// batch enrolls n devices, parallel at once, as `stepca batch` does: per device a new key
// (kty), a token from the JWK provisioner in process (ca.Provisioner), ca.Client.Sign, and
// NAME.key and NAME.crt written to outDir.
func batch(kty string, parallel, n int, outDir string) {
	pw, err := os.ReadFile(os.Getenv("STEPCA_PASSWORD_FILE"))
	must(err)
	prov, err := ca.NewProvisioner(os.Getenv("STEPCA_PROVISIONER"), "", os.Getenv("STEPCA_URL"),
		bytes.TrimSpace(pw), ca.WithRootFile(os.Getenv("STEPCA_ROOT")))
	must(err)
	c := caClient()
	must(os.MkdirAll(outDir, 0o700))
	run("batch", "go-caclient", fmt.Sprintf(`"kty":%q,`, kty), parallel, n, nil, func(_ any, i int) error {
		name := fmt.Sprintf("dev-%05d.example.com", i)
		key := newKey(kty)
		tok, err := prov.Token(name, name)
		if err != nil {
			return err
		}
		chain, err := caSign(c, key, name, tok)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, name+".key"),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
		var crt []byte
		for _, x := range chain {
			crt = append(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
		}
		return os.WriteFile(filepath.Join(outDir, name+".crt"), crt, 0o644)
	})
}
