//go:build cgo

package stepca

// #include <stdint.h>
// #include <stdlib.h>
// #include "stepca.h"
// // Defined in client.go's preamble.
// extern stepca_status stepca_go_set_revoke_provider(stepca_revoke_options *o, uintptr_t handle, stepca_error **e);
import "C"

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// live runs f with the client's handle, or returns ErrClosed.
func (c *Client) live(f func(*C.stepca_client) error) error { return c.h.use(f) }

// fetchBuffer calls a libstepca function that hands out a buffer.
func (c *Client) fetchBuffer(f func(*C.stepca_client, **C.uint8_t, *C.size_t, **C.stepca_error) C.stepca_status) ([]byte, error) {
	var out []byte
	err := c.live(func(p *C.stepca_client) error {
		b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status { return f(p, buf, n, e) })
		out = b
		return err
	})
	return out, err
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return certs, nil
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &Error{Code: CodeMalformedResponse, Message: "certificate: " + err.Error()}
		}
		certs = append(certs, c)
	}
}

// Health checks GET /health.
func (c *Client) Health() error { return c.HealthContext(context.Background()) }

// HealthContext is Health with a context: see "Contexts" in the package documentation.
func (c *Client) HealthContext(ctx context.Context) error { return callContextErr(ctx, c.health) }

func (c *Client) health() error {
	return c.live(func(p *C.stepca_client) error {
		return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_client_health(p, e) })
	})
}

// Version returns step-ca's version string.
func (c *Client) Version() (string, error) {
	return c.VersionContext(context.Background())
}

// VersionContext is Version with a context: see "Contexts" in the package documentation.
func (c *Client) VersionContext(ctx context.Context) (string, error) {
	return callContext(ctx, c.version, nil)
}

func (c *Client) version() (string, error) {
	b, err := c.fetchBuffer(func(p *C.stepca_client, o **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_client_version(p, o, n, e)
	})
	return string(b), err
}

// Roots returns the CA's roots (GET /roots).
func (c *Client) Roots() ([]*x509.Certificate, error) {
	return c.RootsContext(context.Background())
}

// RootsContext is Roots with a context: see "Contexts" in the package documentation.
func (c *Client) RootsContext(ctx context.Context) ([]*x509.Certificate, error) {
	return callContext(ctx, c.roots, nil)
}

func (c *Client) roots() ([]*x509.Certificate, error) {
	b, err := c.fetchBuffer(func(p *C.stepca_client, o **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_client_roots(p, o, n, e)
	})
	if err != nil {
		return nil, err
	}
	return parsePEMCerts(b)
}

// Federation returns the roots and federated roots (GET /federation).
func (c *Client) Federation() ([]*x509.Certificate, error) {
	return c.FederationContext(context.Background())
}

// FederationContext is Federation with a context: see "Contexts" in the package documentation.
func (c *Client) FederationContext(ctx context.Context) ([]*x509.Certificate, error) {
	return callContext(ctx, c.federation, nil)
}

func (c *Client) federation() ([]*x509.Certificate, error) {
	b, err := c.fetchBuffer(func(p *C.stepca_client, o **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_client_federation(p, o, n, e)
	})
	if err != nil {
		return nil, err
	}
	return parsePEMCerts(b)
}

// Intermediates returns the CA's intermediates (GET /intermediates).
func (c *Client) Intermediates() ([]*x509.Certificate, error) {
	return c.IntermediatesContext(context.Background())
}

// IntermediatesContext is Intermediates with a context: see "Contexts" in the package documentation.
func (c *Client) IntermediatesContext(ctx context.Context) ([]*x509.Certificate, error) {
	return callContext(ctx, c.intermediates, nil)
}

func (c *Client) intermediates() ([]*x509.Certificate, error) {
	b, err := c.fetchBuffer(func(p *C.stepca_client, o **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_client_intermediates(p, o, n, e)
	})
	if err != nil {
		return nil, err
	}
	return parsePEMCerts(b)
}

// Provisioners returns every provisioner object, across all pages (GET /provisioners).
func (c *Client) Provisioners() ([]json.RawMessage, error) {
	return c.ProvisionersContext(context.Background())
}

// ProvisionersContext is Provisioners with a context: see "Contexts" in the package documentation.
func (c *Client) ProvisionersContext(ctx context.Context) ([]json.RawMessage, error) {
	return callContext(ctx, c.provisioners, nil)
}

func (c *Client) provisioners() ([]json.RawMessage, error) {
	b, err := c.fetchBuffer(func(p *C.stepca_client, o **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_client_provisioners(p, o, n, e)
	})
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, &Error{Code: CodeMalformedResponse, Message: "provisioners: " + err.Error()}
	}
	return out, nil
}

// TrustedRoots returns the roots the client trusts (configured or bootstrapped), PEM:
// save it after bootstrapping by fingerprint.
func (c *Client) TrustedRoots() ([]byte, error) {
	return c.fetchBuffer(func(p *C.stepca_client, o **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_client_trusted_roots_pem(p, o, n, e)
	})
}

// JWKProvisioner mints tokens in process with a JWK provisioner's key, decrypted once.
// Safe for concurrent use; Close wipes the key.
type JWKProvisioner struct {
	h handle[*C.stepca_jwk_provisioner]
}

func newJWK(p *C.stepca_jwk_provisioner) *JWKProvisioner {
	j := &JWKProvisioner{h: handle[*C.stepca_jwk_provisioner]{ptr: p}}
	runtime.SetFinalizer(j, (*JWKProvisioner).Close)
	return j
}

func (j *JWKProvisioner) use(f func(*C.stepca_jwk_provisioner) error) error { return j.h.use(f) }

// FetchJWKProvisioner fetches the JWK provisioner name (kid may be "" unless several share
// the name) from the CA and decrypts its key with password (wrong: ErrKeyPassphrase).
func FetchJWKProvisioner(c *Client, name, kid string, password []byte) (*JWKProvisioner, error) {
	return fetchJWKProvisioner(c, name, kid, password)
}

// FetchJWKProvisionerContext is FetchJWKProvisioner with a context: see "Contexts" in the
// package documentation. A provisioner fetched after the context ended is closed.
func FetchJWKProvisionerContext(ctx context.Context, c *Client, name, kid string, password []byte) (*JWKProvisioner, error) {
	// The fetch may outlive the call: it works on a copy, wiped when it ends.
	password = bytes.Clone(password)
	return callContext(ctx, func() (*JWKProvisioner, error) {
		defer clear(password)
		return fetchJWKProvisioner(c, name, kid, password)
	}, func(j *JWKProvisioner) { j.Close() })
}

func fetchJWKProvisioner(c *Client, name, kid string, password []byte) (*JWKProvisioner, error) {
	cname, freeName := cString(name)
	defer freeName()
	var ckid *C.char
	if kid != "" {
		k, free := cString(kid)
		defer free()
		ckid = k
	}
	pw, freePw := cSecret(password)
	defer freePw()
	var out *C.stepca_jwk_provisioner
	err := c.live(func(p *C.stepca_client) error {
		return callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_jwk_provisioner_fetch(p, cname, ckid, pw, &out, e)
		})
	})
	if err != nil {
		return nil, err
	}
	return newJWK(out), nil
}

// LoadJWKProvisioner loads a JWK provisioner offline: a ca.json provisioner entry, or an
// encrypted JWK (then name is required).
func LoadJWKProvisioner(data []byte, name string, password []byte) (*JWKProvisioner, error) {
	var cname *C.char
	if name != "" {
		n, free := cString(name)
		defer free()
		cname = n
	}
	pw, freePw := cSecret(password)
	defer freePw()
	d, n := bytesPtr(data)
	var out *C.stepca_jwk_provisioner
	err := callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_jwk_provisioner_load(d, n, cname, pw, &out, e)
	})
	runtime.KeepAlive(data)
	if err != nil {
		return nil, err
	}
	return newJWK(out), nil
}

// SetLifetime sets the lifetime of minted tokens (10 s to 1 h; default 5 min). Only
// before the provisioner is given to a client.
func (j *JWKProvisioner) SetLifetime(d time.Duration) error {
	return j.h.useExclusive(func(p *C.stepca_jwk_provisioner) error {
		return callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_jwk_provisioner_set_lifetime(p, C.uint32_t(d/time.Second), e)
		})
	})
}

// SignToken mints a sign token for subject and sans (step's string forms) for audience,
// timed by the system clock (a Client given the provisioner mints with its own clock).
func (j *JWKProvisioner) SignToken(subject string, sans []string, audience string) (string, error) {
	cs, f1 := cString(subject)
	defer f1()
	ca, f2 := cString(audience)
	defer f2()
	list := make([]*C.char, len(sans))
	for i, s := range sans {
		p, free := cString(s)
		defer free()
		list[i] = p
	}
	// The array of pointers lives in C memory: cgo forbids passing Go memory that holds
	// Go pointers, and these are C pointers in a Go slice.
	arr := (**C.char)(C.malloc(C.size_t(len(list)+1) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	defer C.free(unsafe.Pointer(arr))
	copy(unsafe.Slice(arr, len(list)+1), list)
	var tok string
	err := j.use(func(p *C.stepca_jwk_provisioner) error {
		b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
			return C.stepca_jwk_provisioner_sign_token(p, cs, arr, C.size_t(len(list)), ca, buf, n, e)
		})
		tok = string(b)
		return err
	})
	return tok, err
}

// RevokeToken mints a revoke token for the certificate with serial, for audience, timed by
// the system clock.
func (j *JWKProvisioner) RevokeToken(serial, audience string) (string, error) {
	cs, f1 := cString(serial)
	defer f1()
	ca, f2 := cString(audience)
	defer f2()
	var tok string
	err := j.use(func(p *C.stepca_jwk_provisioner) error {
		b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
			return C.stepca_jwk_provisioner_revoke_token(p, cs, ca, buf, n, e)
		})
		tok = string(b)
		return err
	})
	return tok, err
}

// Close wipes and frees the provisioner's key (clients built with it keep their own
// reference). Safe to call more than once.
func (j *JWKProvisioner) Close() error {
	j.h.close(func(p *C.stepca_jwk_provisioner) { C.stepca_jwk_provisioner_free(p) })
	runtime.SetFinalizer(j, nil)
	return nil
}

// withCChain runs f with a libstepca chain made from ch.
func withCChain(ch *Chain, f func(*C.stepca_chain) error) error {
	if ch == nil || len(ch.Certificates) == 0 {
		return invalid("chain", "must hold a certificate")
	}
	pemBytes := ch.PEM()
	d, n := bytesPtr(pemBytes)
	var cc *C.stepca_chain
	err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_chain_load(d, n, &cc, e) })
	runtime.KeepAlive(pemBytes)
	if err != nil {
		return err
	}
	defer C.stepca_chain_free(cc)
	return f(cc)
}

// RenewAfter says when to renew ch's leaf: about two thirds into its life, minus a random
// jitter of up to a twentieth of it, as step does. A time in the past means now.
func (ch *Chain) RenewAfter() (time.Time, error) {
	var at C.int64_t
	err := withCChain(ch, func(cc *C.stepca_chain) error {
		return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_chain_renew_after(cc, &at, e) })
	})
	return time.Unix(int64(at), 0), err
}

type revokeConfig struct {
	code     int
	reason   string
	token    string
	hasToken bool
	x5c      *X5CProvisioner
}

// RevokeOption configures a revocation.
type RevokeOption func(*revokeConfig)

// WithReason sets the RFC 5280 reason code (ReasonKeyCompromise, ...: 0 to 10) and a
// free-text reason.
func WithReason(code RevocationReason, reason string) RevokeOption {
	return func(r *revokeConfig) { r.code, r.reason = int(code), reason }
}

// WithRevokeToken uses this revoke token instead of the token provider.
func WithRevokeToken(token string) RevokeOption {
	return func(r *revokeConfig) { r.token, r.hasToken = token, true }
}

// WithRevokeX5CProvisioner makes the revoke token with p, signed by the device's factory
// key, instead of the client's provider or provisioner; WithRevokeToken overrides it.
func WithRevokeX5CProvisioner(p *X5CProvisioner) RevokeOption {
	return func(r *revokeConfig) { r.x5c = p }
}

// revokeOptions builds C revocation options; the returned function frees them. The
// *signerState is the Go factory signer of the X5C provisioner that may make the token
// (the call's, else the client's when nothing else is set), or nil.
func (c *Client) revokeOptions(opts []RevokeOption, state *callState) (*C.stepca_revoke_options, func(), *signerState, error) {
	rc := revokeConfig{}
	for _, o := range opts {
		o(&rc)
	}
	var ro *C.stepca_revoke_options
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_revoke_options_new(&ro, e) }); err != nil {
		return nil, nil, nil, err
	}
	cleanup := []func(){func() { C.stepca_revoke_options_free(ro) }}
	done := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	var reason *C.char
	if rc.reason != "" {
		r, free := cString(rc.reason)
		cleanup = append(cleanup, free)
		reason = r
	}
	if rc.code < 0 || rc.code > 10 {
		done()
		return nil, nil, nil, invalid("reason_code", "must be 0 to 10")
	}
	if err := callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_revoke_options_set_reason(ro, C.uint32_t(rc.code), reason, e)
	}); err != nil {
		done()
		return nil, nil, nil, err
	}
	if rc.hasToken {
		tok, free := cSecret([]byte(rc.token))
		err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_revoke_options_set_token(ro, tok, e) })
		free()
		if err != nil {
			done()
			return nil, nil, nil, err
		}
	}
	// The options hold one token source: a token given for this call wins, then this
	// call's X5C provisioner, then the client's provider; without any, the C client's own
	// provisioner.
	var signer *signerState
	switch {
	case rc.hasToken:
	case rc.x5c != nil:
		s, cb, err := rc.x5c.attach(func(p *C.stepca_x5c_provisioner, e **C.stepca_error) C.stepca_status {
			return C.stepca_revoke_options_set_x5c_provisioner(ro, p, e)
		})
		if err != nil {
			done()
			return nil, nil, nil, err
		}
		cleanup = append(cleanup, cb.release)
		signer = s
	case state != nil && state.provider != nil:
		h := cgo.NewHandle(state)
		cleanup = append(cleanup, h.Delete)
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_go_set_revoke_provider(ro, C.uintptr_t(h), e)
		}); err != nil {
			done()
			return nil, nil, nil, err
		}
	case state != nil:
		signer = c.x5cSigner
	}
	return ro, done, signer, nil
}

// Revoke revokes the certificate with serial (decimal, 0x-hex or aa:bb hex) with a revoke
// token: WithRevokeToken's, else WithRevokeX5CProvisioner's, else the client's token
// provider's (asked with PurposeRevoke), else its provisioner's (JWK or X5C). Never
// retried.
func (c *Client) Revoke(serial string, opts ...RevokeOption) error {
	return c.RevokeContext(context.Background(), serial, opts...)
}

// RevokeContext is Revoke with a context: see "Contexts" in the package documentation. A
// revocation abandoned on the wire may still take effect.
func (c *Client) RevokeContext(ctx context.Context, serial string, opts ...RevokeOption) error {
	return callContextErr(ctx, func() error { return c.revoke(ctx, serial, opts) })
}

func (c *Client) revoke(ctx context.Context, serial string, opts []RevokeOption) error {
	state := &callState{provider: c.provider, ctx: ctx}
	ro, done, signer, err := c.revokeOptions(opts, state)
	if err != nil {
		return err
	}
	defer done()
	cs, free := cString(serial)
	defer free()
	err = c.live(func(cp *C.stepca_client) error {
		return signer.exclusive(func() error {
			return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_revoke(cp, cs, ro, e) })
		})
	})
	if e, ok := err.(*Error); ok && e.Code == CodeTokenProvider && state.err != nil {
		e.cause = state.err
	}
	return err
}
