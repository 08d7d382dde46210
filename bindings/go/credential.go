//go:build cgo

package stepca

// #include <stdint.h>
// #include "stepca.h"
import "C"

import (
	"bytes"
	"context"
	"crypto"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
)

// Credential is a certificate chain with the key of its leaf: what a device renews,
// rekeys and revokes with. The key is in memory (NewCredential) or held by a
// crypto.Signer or a PKCS#11 token (NewCredentialWithSigner); a held key signs mutual-TLS
// handshakes and renew tokens where it lives. Safe for concurrent use; Close frees it.
type Credential struct {
	h     handle[*C.stepca_credential]
	chain *Chain
	// For a crypto.Signer other than a *HeldKey: the sign callback's state, reached
	// through cb, which must outlive the libstepca credential and every X5C provisioner
	// (and client) that shares it.
	signer *signerState
	cb     *sharedHandle
	// For a *HeldKey: a share of it, so that the credential signs in Go with it
	// (TLSCertificate) after the caller closed it.
	held *HeldKey
}

// sharedHandle is a Go signer's cgo.Handle, shared by the Go objects whose libstepca
// objects hold the key that calls it: a Credential, the X5C provisioners made from it and
// the clients given those each keep their own share of the C key, which outlives any one
// of them. The handle goes with the last of them, never while C may still call through it.
type sharedHandle struct {
	h    cgo.Handle
	refs atomic.Int64
	// free, if set, runs after the handle is deleted (a Renewer closes the keys it was
	// given this way).
	free func()
}

func newSharedHandle(h cgo.Handle) *sharedHandle {
	s := &sharedHandle{h: h}
	s.refs.Store(1)
	return s
}

// retain adds an owner. nil (no Go signer) stays nil.
func (s *sharedHandle) retain() *sharedHandle {
	if s != nil {
		s.refs.Add(1)
	}
	return s
}

// tryRetain adds an owner unless the handle is already deleted.
func (s *sharedHandle) tryRetain() bool {
	for {
		n := s.refs.Load()
		if n == 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops an owner; the last one deletes the handle.
func (s *sharedHandle) release() {
	if s != nil && s.refs.Add(-1) == 0 {
		s.h.Delete()
		if s.free != nil {
			s.free()
		}
	}
}

// NewCredential makes a credential from chain and its leaf's key in memory. The key is
// shared, not consumed: closing it later does not affect the credential. A key that is
// not the leaf's gives ErrInvalidArgument.
func NewCredential(chain *Chain, key *Key) (*Credential, error) {
	if key == nil {
		return nil, invalid("key", "must not be nil")
	}
	var out *C.stepca_credential
	err := key.use(func(kp *C.stepca_key) error {
		return withCChain(chain, func(cc *C.stepca_chain) error {
			return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_credential_new(cc, kp, &out, e) })
		})
	})
	if err != nil {
		return nil, err
	}
	return newCredential(out, chain, nil, nil), nil
}

// NewCredentialWithSigner makes a credential from chain and signer, which holds the
// leaf's key: libstepca sees only the public key. signer may be any crypto.Signer with an
// ECDSA P-256 or P-384, RSA (2048 bits or more) or Ed25519 key (other keys:
// ErrUnsupported), or a *HeldKey, which then signs in its token directly (closing it
// later does not affect the credential). A key that is not the leaf's gives
// ErrInvalidArgument.
//
// libstepca hands the signer what crypto.Signer expects: a digest, with crypto.SHA256 or
// crypto.SHA384 for ECDSA, crypto.SHA256 (PKCS#1 v1.5) for RSA CSRs and renew tokens, and
// *rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash} for RSA in a TLS 1.3 handshake;
// the message itself with crypto.Hash(0) for Ed25519. Every signature is verified before
// use: one that fails, or is not in the scheme asked for, gives ErrSigner, and the
// signer's own error is kept inside it (errors.Is and errors.As find it). Calls through
// one credential with a crypto.Signer run one at a time, so that a signer's error comes
// back with the call it failed.
func NewCredentialWithSigner(chain *Chain, signer crypto.Signer) (*Credential, error) {
	if k, ok := signer.(*HeldKey); ok {
		var out *C.stepca_credential
		err := withSignerKey(k, func(ek *C.stepca_external_key, _ *signerState) error {
			if err := newExternalCredential(chain, ek, &out); err != nil {
				return err
			}
			// Taken while the key is open, so that its Close cannot free it first.
			k.retain()
			return nil
		})
		if err != nil {
			return nil, err
		}
		cr := newCredential(out, chain, nil, nil)
		cr.held = k
		return cr, nil
	}
	ek, state, h, err := newCallbackKey(signer)
	if err != nil {
		return nil, err
	}
	// The credential shares the external key; only the callback's handle must stay.
	defer C.stepca_external_key_free(ek)
	var out *C.stepca_credential
	if err := newExternalCredential(chain, ek, &out); err != nil {
		h.Delete()
		return nil, err
	}
	return newCredential(out, chain, state, newSharedHandle(h)), nil
}

func newExternalCredential(chain *Chain, ek *C.stepca_external_key, out **C.stepca_credential) error {
	return withCChain(chain, func(cc *C.stepca_chain) error {
		return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_credential_new_external(cc, ek, out, e) })
	})
}

func newCredential(p *C.stepca_credential, chain *Chain, state *signerState, cb *sharedHandle) *Credential {
	cr := &Credential{
		h:      handle[*C.stepca_credential]{ptr: p},
		chain:  &Chain{Certificates: append(chain.Certificates[:0:0], chain.Certificates...)},
		signer: state,
		cb:     cb,
	}
	runtime.SetFinalizer(cr, (*Credential).Close)
	return cr
}

// Chain returns the credential's chain, leaf first.
func (cr *Credential) Chain() *Chain {
	return &Chain{Certificates: append(cr.chain.Certificates[:0:0], cr.chain.Certificates...)}
}

// use runs f with the live credential. With a Go signer it holds the signer's lock for the
// call, so that the error the signer returns is this call's.
func (cr *Credential) use(f func(*C.stepca_credential) error) error {
	if cr == nil {
		return invalid("credential", "must not be nil")
	}
	return cr.h.use(func(p *C.stepca_credential) error {
		if cr.signer == nil {
			return f(p)
		}
		cr.signer.mu.Lock()
		defer cr.signer.mu.Unlock()
		cr.signer.err = nil
		return cr.signer.attach(f(p))
	})
}

// Close frees the credential, waiting for calls in progress. Safe to call more than once,
// and on nil (a RenewerEvent without a credential).
func (cr *Credential) Close() error {
	if cr == nil {
		return nil
	}
	cr.h.close(func(p *C.stepca_credential) {
		C.stepca_credential_free(p)
		cr.cb.release()
		cr.held.release()
	})
	runtime.SetFinalizer(cr, nil)
	return nil
}

// RenewAuth says how Renew authenticates.
type RenewAuth uint32

// Renewal authentication.
const (
	// RenewAuto uses mutual TLS, or the bearer token once the certificate has expired.
	RenewAuto = RenewAuth(C.STEPCA_RENEW_AUTO)
	// RenewMTLS always uses mutual TLS: the credential's key signs the TLS 1.3 handshake.
	RenewMTLS = RenewAuth(C.STEPCA_RENEW_MTLS)
	// RenewToken always uses the x5cInsecure bearer token signed by the credential's key
	// (for expired certificates, and behind proxies that end TLS).
	RenewToken = RenewAuth(C.STEPCA_RENEW_TOKEN)
)

// Renew renews the credential's certificate at /1.0/renew: same subject, SANs, lifetime
// and key. The next credential is NewCredential (or NewCredentialWithSigner) with the new
// chain and the same key.
func (c *Client) Renew(cred *Credential, auth RenewAuth) (*Chain, error) {
	return c.RenewContext(context.Background(), cred, auth)
}

// RenewContext is Renew with a context: see "Contexts" in the package documentation.
func (c *Client) RenewContext(ctx context.Context, cred *Credential, auth RenewAuth) (*Chain, error) {
	return callContext(ctx, func() (*Chain, error) { return c.renew(cred, auth) }, nil)
}

func (c *Client) renew(cred *Credential, auth RenewAuth) (*Chain, error) {
	var out *Chain
	err := c.live(func(cp *C.stepca_client) error {
		return cred.use(func(p *C.stepca_credential) error {
			var err error
			out, err = callChain(func(nc **C.stepca_chain, e **C.stepca_error) C.stepca_status {
				return C.stepca_credential_renew(cp, p, C.stepca_renew_auth(auth), nc, e)
			})
			return err
		})
	})
	return out, err
}

// Rekey authenticates over mutual TLS with the credential and gets a certificate for the
// key in newCSR (PEM or DER) at /1.0/rekey. The new key may be held too (a crypto.Signer,
// or a key generated in the same PKCS#11 token, whose CSR CreateCSRWithSigner builds).
// The next credential is NewCredential (or NewCredentialWithSigner) with the returned
// chain and the new key.
func (c *Client) Rekey(cred *Credential, newCSR []byte) (*Chain, error) {
	return c.RekeyContext(context.Background(), cred, newCSR)
}

// RekeyContext is Rekey with a context: see "Contexts" in the package documentation.
func (c *Client) RekeyContext(ctx context.Context, cred *Credential, newCSR []byte) (*Chain, error) {
	newCSR = bytes.Clone(newCSR) // the request may outlive the call
	return callContext(ctx, func() (*Chain, error) { return c.rekey(cred, newCSR) }, nil)
}

func (c *Client) rekey(cred *Credential, newCSR []byte) (*Chain, error) {
	var out *Chain
	err := c.live(func(cp *C.stepca_client) error {
		return cred.use(func(p *C.stepca_credential) error {
			d, n := bytesPtr(newCSR)
			var err error
			out, err = callChain(func(nc **C.stepca_chain, e **C.stepca_error) C.stepca_status {
				return C.stepca_credential_rekey(cp, p, d, n, nc, e)
			})
			runtime.KeepAlive(newCSR)
			return err
		})
	})
	return out, err
}

// RevokeWithCertificate revokes the credential's leaf, authenticating over mutual TLS with
// it: no token is used, and WithRevokeToken gives ErrInvalidArgument.
func (c *Client) RevokeWithCertificate(cred *Credential, opts ...RevokeOption) error {
	return c.RevokeWithCertificateContext(context.Background(), cred, opts...)
}

// RevokeWithCertificateContext is RevokeWithCertificate with a context: see "Contexts" in
// the package documentation. A revocation abandoned on the wire may still take effect.
func (c *Client) RevokeWithCertificateContext(ctx context.Context, cred *Credential, opts ...RevokeOption) error {
	return callContextErr(ctx, func() error { return c.revokeWithCertificate(cred, opts) })
}

func (c *Client) revokeWithCertificate(cred *Credential, opts []RevokeOption) error {
	rc := revokeConfig{}
	for _, o := range opts {
		o(&rc)
	}
	if rc.hasToken {
		return invalid("token", "RevokeWithCertificate authenticates with the certificate, not a token")
	}
	if rc.x5c != nil {
		return invalid("x5c_provisioner", "RevokeWithCertificate authenticates with the certificate, not a token")
	}
	ro, done, _, err := c.revokeOptions(opts, nil)
	if err != nil {
		return err
	}
	defer done()
	return c.live(func(cp *C.stepca_client) error {
		return cred.use(func(p *C.stepca_credential) error {
			return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_credential_revoke(cp, p, ro, e) })
		})
	})
}
