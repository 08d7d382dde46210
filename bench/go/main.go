// Command gobench is the Go side of scripts/bench.sh: crypto/x509 CSR creation; the
// post-only floor (one CSR reused, net/http posting sign requests over kept-alive
// connections, nothing checked); and the clients a Go user would pick instead (see
// clients.go). Output: one JSON object per run.
//
//	gobench csr KEYFILE N
//	gobench enroll INFLIGHT TOKENFILE KEYFILE N           the post-only floor ("go-post")
//	gobench enroll-user INFLIGHT TOKENFILE N              net/http + crypto/x509 ("go")
//	gobench enroll-caclient INFLIGHT TOKENFILE N          ca.Client.Sign ("go-caclient")
//	gobench renew-caclient mtls|token INFLIGHT TOKENFILE N
//	gobench batch ec-p256|rsa-2048 PARALLEL N OUTDIR      ca.Provisioner + ca.Client
package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

func loadKey(path string) crypto.Signer {
	b, err := os.ReadFile(path)
	must(err)
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	must(err)
	return k.(crypto.Signer)
}

func csr(key crypto.Signer) []byte {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "bench.example.com"},
		DNSNames: []string{"bench.example.com"},
	}, key)
	must(err)
	return der
}

func cpu() time.Duration {
	var r syscall.Rusage
	must(syscall.Getrusage(syscall.RUSAGE_SELF, &r))
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "csr" {
		key := loadKey(os.Args[2])
		n, _ := strconv.Atoi(os.Args[3])
		t0 := time.Now()
		for i := 0; i < n; i++ {
			csr(key)
		}
		fmt.Printf(`{"op":"csr","client":"go","key":%q,"iterations":%d,"us_per_op":%.2f}`+"\n", os.Args[2], n, float64(time.Since(t0).Microseconds())/float64(n))
		return
	}
	if len(os.Args) >= 6 && os.Args[1] == "enroll" {
		inflight, _ := strconv.Atoi(os.Args[2])
		tb, err := os.ReadFile(os.Args[3])
		must(err)
		tokens := strings.Fields(string(tb))
		key := loadKey(os.Args[4])
		n, _ := strconv.Atoi(os.Args[5])
		root, err := os.ReadFile(os.Getenv("STEPCA_ROOT"))
		must(err)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(root)
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool},
			MaxIdleConnsPerHost: inflight,
			MaxIdleConns:        inflight,
		}}
		// One SAN-less-equivalent CSR reused, as the reference figure did.
		csrPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr(key)}))
		url := os.Getenv("STEPCA_URL") + "/1.0/sign"
		pid := os.Getenv("STEPCA_PID")
		var next, failed int64
		ca0, c0, t0 := procCPU(pid), cpu(), time.Now()
		var wg sync.WaitGroup
		for w := 0; w < inflight; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := atomic.AddInt64(&next, 1) - 1
					if i >= int64(n) {
						return
					}
					body, _ := json.Marshal(map[string]string{"csr": csrPEM, "ott": tokens[i]})
					resp, err := client.Post(url, "application/json", bytes.NewReader(body))
					if err != nil || resp.StatusCode != 201 {
						atomic.AddInt64(&failed, 1)
						if resp != nil {
							resp.Body.Close()
						}
						continue
					}
					var out struct{ CertChain []string }
					_ = json.NewDecoder(resp.Body).Decode(&out)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		dt, c, ca := time.Since(t0).Seconds(), cpu()-c0, procCPU(pid)-ca0
		ok := float64(int64(n) - failed)
		fmt.Printf(`{"op":"enroll","client":"go-post","key":"reused","inflight":%d,"n":%d,"failed":%d,"per_s":%.1f,"client_cpu_us":%.1f,"ca_cpu_us":%.1f}`+"\n",
			inflight, n, failed, ok/dt, float64(c.Microseconds())/ok, ca/ok*1e6)
		return
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		must(err)
		return n
	}
	tokens := func(path string) []string {
		b, err := os.ReadFile(path)
		must(err)
		return strings.Fields(string(b))
	}
	switch {
	case len(os.Args) == 5 && os.Args[1] == "enroll-user":
		enrollUser(atoi(os.Args[2]), tokens(os.Args[3]), atoi(os.Args[4]))
	case len(os.Args) == 5 && os.Args[1] == "enroll-caclient":
		enrollCAClient(atoi(os.Args[2]), tokens(os.Args[3]), atoi(os.Args[4]))
	case len(os.Args) == 6 && os.Args[1] == "renew-caclient":
		renewCAClient(os.Args[2], atoi(os.Args[3]), tokens(os.Args[4]), atoi(os.Args[5]))
	case len(os.Args) == 6 && os.Args[1] == "batch":
		batch(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]), os.Args[5])
	default:
		fmt.Fprintln(os.Stderr, "usage: gobench csr KEY N | enroll INFLIGHT TOKENS KEY N | enroll-user|enroll-caclient INFLIGHT TOKENS N |\n"+
			"       renew-caclient mtls|token INFLIGHT TOKENS N | batch KTY PARALLEL N OUTDIR")
		os.Exit(2)
	}
}
