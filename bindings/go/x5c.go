//go:build cgo

package stepca

// #include "stepca.h"
import "C"

import (
	"math"
	"runtime"
	"time"
)

// X5CProvisioner makes tokens for step-ca's X5C provisioner: signed in process by a
// device's factory credential (its birth certificate, an IDevID, with the key in memory, in
// a crypto.Signer or in a PKCS#11 token), with the factory chain in the token's x5c
// header. step-ca's X5C provisioner trusts the factory CA and trades such a token for an
// operational certificate. Give it to a client (WithX5CProvisioner) or to one call
// (WithCallX5CProvisioner, WithRevokeX5CProvisioner). Safe for concurrent use; Close
// frees it.
type X5CProvisioner struct {
	h handle[*C.stepca_x5c_provisioner]
	// The factory credential's Go signer and its handle's share, or nil for a key in
	// memory or a *HeldKey: the C provisioner shares the credential's key, so the handle
	// must live as long as the provisioner and whatever it is given to.
	signer *signerState
	cb     *sharedHandle
}

// NewX5CProvisioner makes the X5C provisioner name at the CA, whose tokens factory signs:
// the device's birth certificate chain (leaf first, then the factory intermediates) with
// its key (NewCredential, NewCredentialWithSigner). factory is shared, not consumed:
// closing it later does not affect the provisioner.
//
// A birth certificate step-ca would refuse is refused here with ErrInvalidArgument naming
// "factory": no digitalSignature in its keyUsage (or no keyUsage), or an extendedKeyUsage
// without clientAuth. When a token is made, a birth certificate expired at the client's
// time fails the call with ErrInvalidArgument naming "factory", one not valid yet with
// ErrClock, and a requested notAfter past the birth certificate's (step-ca caps the
// lifetime there) with ErrInvalidArgument naming "not_after", before anything is sent.
// Sign tokens are bound to their CSR (Claims.CSRFingerprint).
//
// With a Go crypto.Signer, calls that may sign a token with it run one at a time (as
// calls through its Credential do), so that the signer's error comes back, unchanged
// inside an ErrSigner error, with the call it failed.
func NewX5CProvisioner(name string, factory *Credential) (*X5CProvisioner, error) {
	if factory == nil {
		return nil, invalid("factory", "must not be nil")
	}
	cname, free := cString(name)
	defer free()
	x := &X5CProvisioner{signer: factory.signer}
	err := factory.h.use(func(fp *C.stepca_credential) error {
		var out *C.stepca_x5c_provisioner
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_x5c_provisioner_new(cname, fp, &out, e)
		}); err != nil {
			return err
		}
		// Taken while the credential is open, so that its Close cannot delete the handle
		// first.
		x.h.ptr, x.cb = out, factory.cb.retain()
		return nil
	})
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(x, (*X5CProvisioner).Close)
	return x, nil
}

// SetLifetime sets the lifetime of the tokens it makes (10 s to 1 h; default 5 min; others
// give ErrInvalidArgument). While a client or a call holds the provisioner it is refused
// with ErrInvalidArgument naming "provisioner", and the lifetime stays.
func (x *X5CProvisioner) SetLifetime(d time.Duration) error {
	// Out of range stays out of range rather than wrapping into it.
	secs := uint32(math.MaxUint32)
	if d >= 0 && d/time.Second <= math.MaxUint32 {
		secs = uint32(d / time.Second)
	}
	return x.h.useExclusive(func(p *C.stepca_x5c_provisioner) error {
		return callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_x5c_provisioner_set_lifetime(p, C.uint32_t(secs), e)
		})
	})
}

// attach gives the live C provisioner to set (a builder or options setter, which keeps its
// own share) and returns the Go signer to lock for calls that may sign with it, and a
// share of its handle for the caller to release once the builder or options are freed.
func (x *X5CProvisioner) attach(set func(*C.stepca_x5c_provisioner, **C.stepca_error) C.stepca_status) (*signerState, *sharedHandle, error) {
	if x == nil {
		return nil, nil, invalid("x5c_provisioner", "must not be nil")
	}
	var cb *sharedHandle
	err := x.h.use(func(p *C.stepca_x5c_provisioner) error {
		if err := callC(func(e **C.stepca_error) C.stepca_status { return set(p, e) }); err != nil {
			return err
		}
		cb = x.cb.retain()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return x.signer, cb, nil
}

// Close frees the provisioner; clients and calls given it keep their own share, so it may
// be closed while they use it. Safe to call more than once.
func (x *X5CProvisioner) Close() error {
	x.h.close(func(p *C.stepca_x5c_provisioner) {
		C.stepca_x5c_provisioner_free(p)
		x.cb.release()
	})
	runtime.SetFinalizer(x, nil)
	return nil
}
