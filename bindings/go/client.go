//go:build cgo

package stepca

// #include <stdint.h>
// #include "stepca.h"
//
// // Implemented in Go (callbacks.go).
// extern int stepcaGoTokenProvider(uintptr_t handle, stepca_token_claims *claims, stepca_token_sink *sink);
// extern int64_t stepcaGoTimeSource(uintptr_t handle);
//
// // The handle travels as uintptr_t and becomes void* only here, in C, so that no Go
// // pointer check or vet rule is involved (golang/go#49633).
// static int stepca_go_trampoline(void *user_data, const stepca_token_claims *claims, stepca_token_sink *sink) {
//   return stepcaGoTokenProvider((uintptr_t)user_data, (stepca_token_claims *)claims, sink);
// }
// static stepca_status stepca_go_set_provider(stepca_sign_options *o, uintptr_t handle, stepca_error **e) {
//   return stepca_sign_options_set_token_provider(o, stepca_go_trampoline, (void *)handle, e);
// }
// stepca_status stepca_go_set_revoke_provider(stepca_revoke_options *o, uintptr_t handle, stepca_error **e) {
//   return stepca_revoke_options_set_token_provider(o, stepca_go_trampoline, (void *)handle, e);
// }
// static int64_t stepca_go_time_trampoline(void *user_data) {
//   return stepcaGoTimeSource((uintptr_t)user_data);
// }
// static stepca_status stepca_go_set_time_source(stepca_client_builder *b, uintptr_t handle, stepca_error **e) {
//   return stepca_client_builder_set_time_source(b, stepca_go_time_trampoline, (void *)handle, e);
// }
import "C"

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"runtime"
	"runtime/cgo"
	"time"
)

// Claims is what a token provider is told about the request it must authorise. A step
// JWK token's sub must be Subject and its sans must be SANs.
type Claims struct {
	Subject        string
	SANs           []string // every SAN, as step's "sans" claim holds them
	DNSNames       []string
	IPAddresses    []string
	EmailAddresses []string
	URIs           []string
	Audience       string // e.g. https://ca.example:9000/1.0/sign
	Provisioner    string // the client's provisioner, or ""
	// Purpose is what the token is for. For PurposeRevoke, Subject is the certificate's
	// serial number in decimal and there are no SANs.
	Purpose Purpose
	// Now is the client's time, to whole seconds: its time source (WithTimeSource), or
	// the CA's clock in CA-time mode (WithCATime), else the system clock. Base a minted
	// token's iat, nbf and exp on it rather than on time.Now.
	Now time.Time
	// CSRFingerprint is, for a sign token, the fingerprint of the CSR being signed: the
	// SHA-256 of its DER, base64url without padding (also when Sign was given PEM); ""
	// for a revoke token. A token carrying it as "cnf":{"x5rt#S256":"<fingerprint>"} is
	// accepted by step-ca for this CSR only.
	CSRFingerprint string
	// NotAfter is the notAfter the call requests (WithValidity), to whole seconds; the zero
	// time when it requests none.
	NotAfter time.Time
}

// Purpose says what a token is for.
type Purpose int

// Token purposes.
const (
	PurposeSign   = Purpose(C.STEPCA_TOKEN_SIGN)
	PurposeRevoke = Purpose(C.STEPCA_TOKEN_REVOKE)
)

// TokenProvider returns a one-time token for claims. It is called once per Sign or Revoke
// (a retry of a request that never reached the CA sends the same token again), on the
// calling goroutine, or with a context that can end (SignContext, RevokeContext) on a
// goroutine of the call's, and not at all once that context is done; on a shared Client it
// may run on several goroutines at once.
type TokenProvider func(Claims) (string, error)

type clientConfig struct {
	rootPEM            []byte
	rootFile           string
	connectTimeout     time.Duration
	callTimeout        time.Duration
	provisioner        string
	provider           TokenProvider
	allowHTTP          bool
	insecureSkipVerify bool
	proxy              string
	fingerprint        string
	jwk                *JWKProvisioner
	x5c                *X5CProvisioner
	retries            *[3]time.Duration // attempts (as a count), initial and max backoff
	timeSource         func() time.Time
	caTime             bool
}

// Option configures a Client.
type Option func(*clientConfig)

// WithRootPEM trusts only the roots in this PEM bundle.
func WithRootPEM(pem []byte) Option { return func(c *clientConfig) { c.rootPEM = pem } }

// WithRootFile trusts only the roots in this PEM file.
func WithRootFile(path string) Option { return func(c *clientConfig) { c.rootFile = path } }

// WithTimeouts sets the connect timeout and the timeout of a whole call (defaults 10 s and
// 30 s); zero keeps a default.
func WithTimeouts(connect, call time.Duration) Option {
	return func(c *clientConfig) { c.connectTimeout, c.callTimeout = connect, call }
}

// WithRootFingerprint bootstraps trust: NewClient fetches the CA's root by its SHA-256
// fingerprint (hex; ':' and '-' allowed), checks it, and then trusts only that root.
// A CA without such a root gives ErrFingerprint.
func WithRootFingerprint(fingerprint string) Option {
	return func(c *clientConfig) { c.fingerprint = fingerprint }
}

// WithJWKProvisioner mints tokens in process with p (see FetchJWKProvisioner) when no
// TokenProvider is set.
func WithJWKProvisioner(p *JWKProvisioner) Option { return func(c *clientConfig) { c.jwk = p } }

// WithX5CProvisioner makes the client's sign and revoke tokens with p, signed by the
// device's factory key (see NewX5CProvisioner), when no TokenProvider is set. The client
// keeps its own share of p: closing p (or its factory Credential) later changes nothing.
// Giving both WithJWKProvisioner and WithX5CProvisioner fails NewClient with
// ErrInvalidArgument.
func WithX5CProvisioner(p *X5CProvisioner) Option { return func(c *clientConfig) { c.x5c = p } }

// WithRetries sets how failed requests are retried: maxAttempts in all (1 = never),
// waiting initial, doubling up to max, with jitter (defaults 3, 200 ms, 2 s). Only
// requests that never reached the CA are retried (refused, no route, DNS, connect
// timeout: the same token is sent again, the provider is not asked twice), and GETs
// after transport failures or 5xx; all attempts stay within the call timeout.
func WithRetries(maxAttempts int, initial, max time.Duration) Option {
	return func(c *clientConfig) { c.retries = &[3]time.Duration{time.Duration(maxAttempts), initial, max} }
}

// WithProvisioner names the provisioner; the token provider is told it.
func WithProvisioner(name string) Option { return func(c *clientConfig) { c.provisioner = name } }

// WithTokenProvider sets the function that supplies tokens when Sign is not given one.
func WithTokenProvider(p TokenProvider) Option { return func(c *clientConfig) { c.provider = p } }

// WithInsecureHTTP allows a plain http:// CA URL (refused otherwise).
func WithInsecureHTTP() Option { return func(c *clientConfig) { c.allowHTTP = true } }

// WithDangerousInsecureSkipVerify turns TLS verification off. Tests only.
func WithDangerousInsecureSkipVerify() Option {
	return func(c *clientConfig) { c.insecureSkipVerify = true }
}

// WithProxy sends requests through an HTTP proxy (environment variables are never read).
func WithProxy(url string) Option { return func(c *clientConfig) { c.proxy = url } }

// WithTimeSource makes now the client's clock instead of the system clock, everywhere the
// client needs the time: token times (Claims.Now), step-ca's TLS certificate, issued
// chains, expiry. For devices without a trustworthy clock (no RTC, not yet synchronised).
// nil keeps the system clock.
//
// now is called, to whole seconds, from whichever call needs the time, possibly on
// several goroutines at once, for as long as the Client lives (Close releases it). It
// must be cheap, safe for concurrent use, and must not call the Client. A panic in now is
// recovered and that reading is time.Now() instead: the client falls back to the system
// clock (its default) rather than crash the process.
//
// A time before a configured root's notBefore fails NewClient with ErrClock.
func WithTimeSource(now func() time.Time) Option {
	return func(c *clientConfig) { c.timeSource = now }
}

// WithCATime turns CA-time mode on: the client measures the CA's clock from the Date of
// its answers (a /health call before the first token is needed) and uses it from then on
// for token times (Claims.Now) and checks, so a device whose clock is minutes or hours
// off still enrolls. The first connection is still verified at the device's time (or
// WithTimeSource's): a clock before the root's notBefore fails with ErrClock.
func WithCATime() Option { return func(c *clientConfig) { c.caTime = true } }

// Client talks to one step-ca. It is safe for concurrent use by many goroutines.
type Client struct {
	h        handle[*C.stepca_client]
	provider TokenProvider
	provName string
	clock    cgo.Handle // the time source's *timeSource, or 0; deleted after the client is freed
	// The X5C provisioner's factory signer (nil without one, or for a key that is not a
	// Go crypto.Signer), locked for calls that may sign with it, and its handle's share.
	x5cSigner *signerState
	x5cCB     *sharedHandle
}

// NewClient builds a client for the CA at caURL (https://host[:port]).
func NewClient(caURL string, opts ...Option) (*Client, error) {
	return newClient(caURL, opts)
}

// NewClientContext is NewClient with a context, which matters when the client talks to
// the CA as it is built (WithRootFingerprint fetches the root): see "Contexts" in the
// package documentation. A client built after the context ended is closed.
func NewClientContext(ctx context.Context, caURL string, opts ...Option) (*Client, error) {
	return callContext(ctx, func() (*Client, error) { return newClient(caURL, opts) },
		func(c *Client) { c.Close() })
}

func newClient(caURL string, opts []Option) (*Client, error) {
	if err := checkVersion(); err != nil {
		return nil, err
	}
	cfg := clientConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	// Both would be the C client's token provider, the last replacing the first.
	if cfg.jwk != nil && cfg.x5c != nil {
		return nil, invalid("x5c_provisioner", "set at most one of WithJWKProvisioner and WithX5CProvisioner")
	}
	url, freeURL := cString(caURL)
	defer freeURL()
	var b *C.stepca_client_builder
	var cerr *C.stepca_error
	if err := takeError(C.stepca_client_builder_new(url, &b, &cerr), cerr); err != nil {
		return nil, err
	}
	// The time source's handle must outlive the builder and, once built, the client (which
	// deletes it in Close); without a client it goes once the builder is freed.
	var clock cgo.Handle
	var x5cSigner *signerState
	var x5cCB *sharedHandle
	built := false
	defer func() {
		C.stepca_client_builder_free(b)
		if !built {
			if clock != 0 {
				clock.Delete()
			}
			x5cCB.release()
		}
	}()
	if cfg.x5c != nil {
		signer, cb, err := cfg.x5c.attach(func(p *C.stepca_x5c_provisioner, e **C.stepca_error) C.stepca_status {
			return C.stepca_client_builder_set_x5c_provisioner(b, p, e)
		})
		if err != nil {
			return nil, err
		}
		x5cSigner, x5cCB = signer, cb
	}
	steps := []func(**C.stepca_error) C.stepca_status{}
	if cfg.timeSource != nil {
		clock = cgo.NewHandle(&timeSource{now: cfg.timeSource})
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_go_set_time_source(b, C.uintptr_t(clock), e)
		})
	}
	if cfg.caTime {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_client_builder_set_ca_time(b, true, e)
		})
	}
	if cfg.rootPEM != nil {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			p, n := bytesPtr(cfg.rootPEM)
			st := C.stepca_client_builder_set_root_pem(b, p, n, e)
			runtime.KeepAlive(cfg.rootPEM)
			return st
		})
	}
	if cfg.rootFile != "" {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			p, free := cString(cfg.rootFile)
			defer free()
			return C.stepca_client_builder_set_root_file(b, p, e)
		})
	}
	if r := cfg.retries; r != nil {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_client_builder_set_retries(b, C.uint32_t(r[0]), C.uint64_t(r[1].Milliseconds()), C.uint64_t(r[2].Milliseconds()), e)
		})
	}
	if cfg.fingerprint != "" {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			p, free := cString(cfg.fingerprint)
			defer free()
			return C.stepca_client_builder_set_root_fingerprint(b, p, e)
		})
	}
	if cfg.jwk != nil {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			var st C.stepca_status
			err := cfg.jwk.use(func(p *C.stepca_jwk_provisioner) error {
				st = C.stepca_client_builder_set_jwk_provisioner(b, p, e)
				return nil
			})
			if err != nil {
				return C.STEPCA_ERR_INVALID_ARGUMENT
			}
			return st
		})
	}
	if cfg.connectTimeout > 0 || cfg.callTimeout > 0 {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_client_builder_set_timeouts(b, C.uint64_t(cfg.connectTimeout.Milliseconds()), C.uint64_t(cfg.callTimeout.Milliseconds()), e)
		})
	}
	if cfg.provisioner != "" {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			p, free := cString(cfg.provisioner)
			defer free()
			return C.stepca_client_builder_set_provisioner(b, p, e)
		})
	}
	if cfg.allowHTTP {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_client_builder_allow_insecure_http(b, true, e)
		})
	}
	if cfg.insecureSkipVerify {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_client_builder_dangerous_disable_tls_verification(b, e)
		})
	}
	if cfg.proxy != "" {
		steps = append(steps, func(e **C.stepca_error) C.stepca_status {
			p, free := cString(cfg.proxy)
			defer free()
			return C.stepca_client_builder_set_proxy(b, p, e)
		})
	}
	for _, s := range steps {
		if err := callC(s); err != nil {
			return nil, err
		}
	}
	var ptr *C.stepca_client
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_client_builder_build(b, &ptr, e) }); err != nil {
		return nil, err
	}
	built = true
	c := &Client{h: handle[*C.stepca_client]{ptr: ptr}, provider: cfg.provider, provName: cfg.provisioner, clock: clock,
		x5cSigner: x5cSigner, x5cCB: x5cCB}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// Close frees the client, waiting for calls in progress, and releases its time source and
// X5C provisioner. It is safe to call more than once.
func (c *Client) Close() error {
	c.h.close(func(p *C.stepca_client) {
		C.stepca_client_free(p)
		if c.clock != 0 {
			c.clock.Delete()
		}
		c.x5cCB.release()
	})
	runtime.SetFinalizer(c, nil)
	return nil
}

// timeSource is what the time source callback reaches through its cgo.Handle.
type timeSource struct {
	now func() time.Time
}

type signConfig struct {
	token        string
	hasToken     bool
	notBefore    time.Time
	notAfter     time.Time
	templateData json.RawMessage
	provider     TokenProvider
	x5c          *X5CProvisioner
}

// SignOption configures one Sign call.
type SignOption func(*signConfig)

// WithToken uses this one-time token instead of calling the token provider.
func WithToken(token string) SignOption {
	return func(s *signConfig) { s.token, s.hasToken = token, true }
}

// WithValidity requests notBefore and notAfter; a zero time leaves that bound to step-ca.
func WithValidity(notBefore, notAfter time.Time) SignOption {
	return func(s *signConfig) { s.notBefore, s.notAfter = notBefore, notAfter }
}

// WithTemplateData sends templateData (JSON) for the provisioner's template.
func WithTemplateData(data json.RawMessage) SignOption {
	return func(s *signConfig) { s.templateData = bytes.Clone(data) }
}

// WithCallTokenProvider uses this provider for this call instead of the client's.
func WithCallTokenProvider(p TokenProvider) SignOption {
	return func(s *signConfig) { s.provider = p }
}

// WithCallX5CProvisioner makes this call's token with p (see NewX5CProvisioner) instead
// of the client's provider or provisioner. Giving WithCallTokenProvider too fails the
// call with ErrInvalidArgument; WithToken overrides it.
func WithCallX5CProvisioner(p *X5CProvisioner) SignOption {
	return func(s *signConfig) { s.x5c = p }
}

// Chain is an issued certificate and its intermediates, leaf first.
type Chain struct {
	Certificates []*x509.Certificate
}

// Leaf is the issued certificate.
func (ch *Chain) Leaf() *x509.Certificate { return ch.Certificates[0] }

// Intermediates are the certificates after the leaf.
func (ch *Chain) Intermediates() []*x509.Certificate { return ch.Certificates[1:] }

// PEM encodes the chain, leaf first.
func (ch *Chain) PEM() []byte {
	var out []byte
	for _, c := range ch.Certificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// callState is what one Sign call shares with its token provider callback.
type callState struct {
	provider TokenProvider
	err      error           // what the provider returned, or a recovered panic
	ctx      context.Context // the call's; nil for none. Done: the provider is not asked
}

// Sign exchanges a CSR (PEM or DER) for a certificate chain at step-ca's /1.0/sign. The
// token is WithToken's, else WithCallX5CProvisioner's or WithCallTokenProvider's, else the
// client's TokenProvider's, else its provisioner's (JWK or X5C). The chain's leaf carries
// the CSR's key and the chain verifies to the configured root (libstepca checks both).
func (c *Client) Sign(csr []byte, opts ...SignOption) (*Chain, error) {
	return c.SignContext(context.Background(), csr, opts...)
}

// SignContext is Sign with a context: see "Contexts" in the package documentation for
// what is honoured (before sending, and before a Go token provider is asked; a request on
// the wire is abandoned, not stopped, and bounded by the client's call timeout).
func (c *Client) SignContext(ctx context.Context, csr []byte, opts ...SignOption) (*Chain, error) {
	csr = bytes.Clone(csr) // the request may outlive the call
	return callContext(ctx, func() (*Chain, error) {
		return c.sign(ctx, opts, func(cp *C.stepca_client, so *C.stepca_sign_options, chain **C.stepca_chain, e **C.stepca_error) C.stepca_status {
			d, n := bytesPtr(csr)
			st := C.stepca_sign_cert(cp, d, n, so, chain, e)
			runtime.KeepAlive(csr)
			return st
		})
	}, nil)
}

// Enroll builds the CSR for req with key and exchanges it at /1.0/sign in one call:
// CreateCSR then Sign, less reading back and verifying a CSR libstepca has just signed
// (about a tenth of an enrollment's CPU). Tokens, retries and the chain's checks are
// Sign's; a CSR that cannot be built fails before any token is asked for.
func (c *Client) Enroll(key *Key, req *CSRRequest, opts ...SignOption) (*Chain, error) {
	return c.EnrollContext(context.Background(), key, req, opts...)
}

// EnrollContext is Enroll with a context, honoured as SignContext honours it.
func (c *Client) EnrollContext(ctx context.Context, key *Key, req *CSRRequest, opts ...SignOption) (*Chain, error) {
	if key == nil {
		return nil, invalid("key", "must not be nil")
	}
	req = req.clone() // the request may outlive the call
	return callContext(ctx, func() (*Chain, error) {
		var out *Chain
		err := withRequest(req, func(rp *C.stepca_csr_request) error {
			return key.use(func(kp *C.stepca_key) error {
				var err error
				out, err = c.sign(ctx, opts, func(cp *C.stepca_client, so *C.stepca_sign_options, chain **C.stepca_chain, e **C.stepca_error) C.stepca_status {
					return C.stepca_enroll(cp, kp, rp, so, chain, e)
				})
				return err
			})
		})
		return out, err
	}, nil)
}

// EnrollWithSigner is Enroll with a key libstepca never sees (see CreateCSRWithSigner):
// the CSR's signature is checked once, when it is made, not again before it is sent.
func (c *Client) EnrollWithSigner(signer crypto.Signer, req *CSRRequest, opts ...SignOption) (*Chain, error) {
	return c.EnrollWithSignerContext(context.Background(), signer, req, opts...)
}

// EnrollWithSignerContext is EnrollWithSigner with a context, honoured as SignContext
// honours it.
func (c *Client) EnrollWithSignerContext(ctx context.Context, signer crypto.Signer, req *CSRRequest, opts ...SignOption) (*Chain, error) {
	if signer == nil {
		return nil, invalid("signer", "must not be nil")
	}
	req = req.clone() // the request may outlive the call
	return callContext(ctx, func() (*Chain, error) {
		var out *Chain
		err := withSignerKey(signer, func(ek *C.stepca_external_key, _ *signerState) error {
			return withRequest(req, func(rp *C.stepca_csr_request) error {
				var err error
				out, err = c.sign(ctx, opts, func(cp *C.stepca_client, so *C.stepca_sign_options, chain **C.stepca_chain, e **C.stepca_error) C.stepca_status {
					return C.stepca_enroll_external(cp, ek, rp, so, chain, e)
				})
				return err
			})
		})
		return out, err
	}, nil)
}

// sign makes the C options for opts and runs send with them: stepca_sign_cert or
// stepca_enroll.
func (c *Client) sign(ctx context.Context, opts []SignOption, send func(*C.stepca_client, *C.stepca_sign_options, **C.stepca_chain, **C.stepca_error) C.stepca_status) (*Chain, error) {
	sc := signConfig{}
	for _, o := range opts {
		o(&sc)
	}
	// The C options hold one token source; say so rather than silently drop one.
	if sc.x5c != nil && sc.provider != nil {
		return nil, invalid("x5c_provisioner", "set at most one of WithCallX5CProvisioner and WithCallTokenProvider")
	}
	var so *C.stepca_sign_options
	var cerr *C.stepca_error
	if err := takeError(C.stepca_sign_options_new(&so, &cerr), cerr); err != nil {
		return nil, err
	}
	defer C.stepca_sign_options_free(so)
	if sc.hasToken {
		tok, free := cSecret([]byte(sc.token))
		err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_sign_options_set_token(so, tok, e) })
		free()
		if err != nil {
			return nil, err
		}
	}
	if !sc.notBefore.IsZero() {
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_sign_options_set_not_before(so, C.int64_t(sc.notBefore.Unix()), e)
		}); err != nil {
			return nil, err
		}
	}
	if !sc.notAfter.IsZero() {
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_sign_options_set_not_after(so, C.int64_t(sc.notAfter.Unix()), e)
		}); err != nil {
			return nil, err
		}
	}
	if sc.templateData != nil {
		td, free := cString(string(sc.templateData))
		err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_sign_options_set_template_data(so, td, e) })
		free()
		if err != nil {
			return nil, err
		}
	}
	state := &callState{provider: sc.provider, ctx: ctx}
	if state.provider == nil {
		state.provider = c.provider
	}
	// The options hold one token source: a token given for this call wins, then this
	// call's X5C provisioner or provider, then the client's provider; without any, the C
	// client's own provisioner. signer is the Go factory signer the call may sign with.
	var signer *signerState
	switch {
	case sc.hasToken:
	case sc.x5c != nil:
		s, cb, err := sc.x5c.attach(func(p *C.stepca_x5c_provisioner, e **C.stepca_error) C.stepca_status {
			return C.stepca_sign_options_set_x5c_provisioner(so, p, e)
		})
		if err != nil {
			return nil, err
		}
		// The options share the C provisioner, but nothing signs through them once the
		// call has returned.
		defer cb.release()
		signer = s
	case state.provider != nil:
		h := cgo.NewHandle(state)
		defer h.Delete()
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_go_set_provider(so, C.uintptr_t(h), e)
		}); err != nil {
			return nil, err
		}
	default:
		signer = c.x5cSigner
	}

	var out *Chain
	err := c.live(func(cp *C.stepca_client) error {
		return signer.exclusive(func() error {
			var err error
			out, err = callChain(func(chain **C.stepca_chain, e **C.stepca_error) C.stepca_status {
				return send(cp, so, chain, e)
			})
			if e, ok := err.(*Error); ok && e.Code == CodeTokenProvider && state.err != nil {
				e.cause = state.err
			}
			return err
		})
	})
	return out, err
}

// callChain runs f, which hands out a new chain, and converts it into Go certificates.
func callChain(f func(**C.stepca_chain, **C.stepca_error) C.stepca_status) (*Chain, error) {
	var chain *C.stepca_chain
	if err := callC(func(e **C.stepca_error) C.stepca_status { return f(&chain, e) }); err != nil {
		return nil, err
	}
	defer C.stepca_chain_free(chain)
	return chainFromC(chain)
}

func chainFromC(chain *C.stepca_chain) (*Chain, error) {
	count := int(C.stepca_chain_count(chain))
	out := &Chain{}
	for i := 0; i < count; i++ {
		der, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
			return C.stepca_chain_get(chain, C.size_t(i), C.STEPCA_FORMAT_DER, buf, n, e)
		})
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &Error{Code: CodeMalformedResponse, Message: "certificate: " + err.Error()}
		}
		out.Certificates = append(out.Certificates, cert)
	}
	return out, nil
}
