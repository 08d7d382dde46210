//go:build cgo

package stepca

// #include <stdint.h>
// #include "stepca.h"
//
// extern int stepcaGoSign(uintptr_t handle, uint8_t *data, size_t len, stepca_signature_sink *sink);
//
// static int stepca_go_sign_trampoline(void *user_data, const uint8_t *data, size_t len, stepca_signature_sink *sink) {
//   return stepcaGoSign((uintptr_t)user_data, (uint8_t *)data, len, sink);
// }
// static stepca_status stepca_go_external_key(const uint8_t *spki, size_t n, stepca_sig_alg alg, uintptr_t handle,
//                                              stepca_external_key **out, stepca_error **e) {
//   return stepca_external_key_new(spki, n, alg, stepca_go_sign_trampoline, (void *)handle, out, e);
// }
import "C"

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes the trampoline computes must be linked in
	_ "crypto/sha512"
	"crypto/x509"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
)

// signerState is what a sign callback reaches through its cgo.Handle: the Go signer and
// the error it last returned, kept so that the caller gets it back unchanged.
type signerState struct {
	signer crypto.Signer
	// mu is held for a whole libstepca call through a long-lived key (a Credential's), so
	// that err belongs to that call and not to one running beside it.
	mu  sync.Mutex
	err error
}

// minRSABits is the smallest RSA key libstepca verifies signatures of; smaller ones are
// refused up front rather than failing later as "a signature that does not verify".
const minRSABits = 2048

// signerAlgorithm is the key's own signature algorithm (CSRs and tokens), or why the
// signer's key is not supported.
func signerAlgorithm(pub crypto.PublicKey) (C.stepca_sig_alg, error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return C.STEPCA_SIG_ECDSA_P256_SHA256, nil
		case elliptic.P384():
			return C.STEPCA_SIG_ECDSA_P384_SHA384, nil
		}
		return 0, &Error{Code: CodeUnsupported, Message: "signer: only P-256 and P-384 ECDSA keys are supported"}
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return 0, &Error{Code: CodeUnsupported, Message: fmt.Sprintf("signer: a %d-bit RSA key is too small (at least %d bits)", pub.N.BitLen(), minRSABits)}
		}
		return C.STEPCA_SIG_RSA_PKCS1_SHA256, nil
	case ed25519.PublicKey:
		return C.STEPCA_SIG_ED25519, nil
	}
	return 0, &Error{Code: CodeUnsupported, Message: fmt.Sprintf("signer: unsupported public key type %T", pub)}
}

// newCallbackKey makes a libstepca external key whose sign callback runs signer. The
// caller frees the key and, once nothing can call back any more, deletes the handle.
func newCallbackKey(signer crypto.Signer) (*C.stepca_external_key, *signerState, cgo.Handle, error) {
	if signer == nil {
		return nil, nil, 0, invalid("signer", "must not be nil")
	}
	pub := signer.Public()
	if _, err := signerAlgorithm(pub); err != nil {
		return nil, nil, 0, err
	}
	state := &signerState{signer: signer}
	h := cgo.NewHandle(state)
	ek, err := callbackKey(h, pub)
	if err != nil {
		h.Delete()
		return nil, nil, 0, err
	}
	return ek, state, h, nil
}

// callbackKey makes another libstepca external key for pub whose sign callback reaches
// the signer behind h (a *signerState): a Renewer makes credentials of its own with a Go
// signer's key this way. The caller frees the key.
func callbackKey(h cgo.Handle, pub crypto.PublicKey) (*C.stepca_external_key, error) {
	alg, err := signerAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, invalid("signer", "%v", err)
	}
	d, n := bytesPtr(spki)
	var ek *C.stepca_external_key
	err = callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_go_external_key(d, n, alg, C.uintptr_t(h), &ek, e)
	})
	runtime.KeepAlive(spki)
	if err != nil {
		return nil, err
	}
	return ek, nil
}

// withSignerKey runs f with signer as a libstepca external key: a *HeldKey's own token key
// (signing stays in the token, on whole messages), else a sign callback into signer.
// state is nil for a *HeldKey.
func withSignerKey(signer crypto.Signer, f func(*C.stepca_external_key, *signerState) error) error {
	if k, ok := signer.(*HeldKey); ok {
		if k == nil {
			return invalid("signer", "must not be nil")
		}
		return k.use(func(ek *C.stepca_external_key) error { return f(ek, nil) })
	}
	ek, state, h, err := newCallbackKey(signer)
	if err != nil {
		return err
	}
	defer h.Delete()
	defer C.stepca_external_key_free(ek)
	return state.attach(f(ek, state))
}

// exclusive runs f, a libstepca call that may sign through s, holding s's lock, so that
// the error the signer returns belongs to this call and not to one running beside it. A
// nil s (no Go signer) just runs f.
func (s *signerState) exclusive(f func() error) error {
	if s == nil {
		return f()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = nil
	return s.attach(f())
}

// attach makes the signer's own error the cause of a signer failure, so that errors.Is
// and errors.As find it.
func (s *signerState) attach(err error) error {
	if e, ok := err.(*Error); ok && e.Code == CodeSigner && s != nil && s.err != nil {
		e.cause = s.err
	}
	return err
}

// CreateCSRWithSigner builds a CSR signed by signer (an HSM, a TPM, a secure element...):
// libstepca sees only the public key. ECDSA P-256/P-384, RSA (2048 bits or more) and
// Ed25519 are supported.
func CreateCSRWithSigner(signer crypto.Signer, req *CSRRequest, format Format) ([]byte, error) {
	var out []byte
	err := withSignerKey(signer, func(ek *C.stepca_external_key, _ *signerState) error {
		return withRequest(req, func(rp *C.stepca_csr_request) error {
			b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
				return C.stepca_create_csr_external(ek, rp, C.stepca_format(format), buf, n, e)
			})
			out = b
			return err
		})
	})
	return out, err
}

// signerOpts is what a crypto.Signer is asked for when libstepca asks for alg: the hash
// (zero for Ed25519, which signs the message itself) and, for RSA-PSS, a salt as long as
// the hash, which is what TLS 1.3 requires.
func signerOpts(alg C.stepca_sig_alg) (crypto.SignerOpts, error) {
	pss := func(h crypto.Hash) crypto.SignerOpts {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	switch alg {
	case C.STEPCA_SIG_ECDSA_P256_SHA256, C.STEPCA_SIG_RSA_PKCS1_SHA256:
		return crypto.SHA256, nil
	case C.STEPCA_SIG_ECDSA_P384_SHA384, C.STEPCA_SIG_RSA_PKCS1_SHA384:
		return crypto.SHA384, nil
	case C.STEPCA_SIG_RSA_PKCS1_SHA512:
		return crypto.SHA512, nil
	case C.STEPCA_SIG_RSA_PSS_SHA256:
		return pss(crypto.SHA256), nil
	case C.STEPCA_SIG_RSA_PSS_SHA384:
		return pss(crypto.SHA384), nil
	case C.STEPCA_SIG_RSA_PSS_SHA512:
		return pss(crypto.SHA512), nil
	case C.STEPCA_SIG_ED25519:
		return crypto.Hash(0), nil
	}
	return nil, fmt.Errorf("stepca: libstepca asked for signature algorithm %d, which this package does not know", alg)
}

// sign runs the Go signer for a callback asked for alg: crypto.Signer takes a digest, so
// the message is hashed here first (except for Ed25519).
func (s *signerState) sign(alg C.stepca_sig_alg, msg []byte) ([]byte, error) {
	opts, err := signerOpts(alg)
	if err != nil {
		return nil, err
	}
	digest := msg
	if h := opts.HashFunc(); h != 0 {
		hh := h.New()
		hh.Write(msg)
		digest = hh.Sum(nil)
	}
	return s.signer.Sign(rand.Reader, digest, opts)
}
