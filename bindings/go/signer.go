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
	"crypto/x509"
	"runtime"
	"runtime/cgo"
)

// signerState is what a sign callback needs: the Go signer, its hash, and the error it
// returned (kept so that the caller gets it back unchanged).
type signerState struct {
	signer crypto.Signer
	hash   crypto.Hash
	err    error
}

// externalKey wraps a crypto.Signer as a libstepca external key for the duration of f.
func externalKey(signer crypto.Signer, f func(*C.stepca_external_key, *signerState) error) error {
	if signer == nil {
		return invalid("signer", "must not be nil")
	}
	var alg C.stepca_sig_alg
	state := &signerState{signer: signer}
	switch pub := signer.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			alg, state.hash = C.STEPCA_SIG_ECDSA_P256_SHA256, crypto.SHA256
		case elliptic.P384():
			alg, state.hash = C.STEPCA_SIG_ECDSA_P384_SHA384, crypto.SHA384
		default:
			return &Error{Code: CodeUnsupported, Message: "signer: only P-256 and P-384 ECDSA keys are supported"}
		}
	case *rsa.PublicKey:
		alg, state.hash = C.STEPCA_SIG_RSA_PKCS1_SHA256, crypto.SHA256
	case ed25519.PublicKey:
		alg, state.hash = C.STEPCA_SIG_ED25519, 0
	default:
		return &Error{Code: CodeUnsupported, Message: "signer: unsupported public key type"}
	}
	spki, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return invalid("signer", "%v", err)
	}
	h := cgo.NewHandle(state)
	defer h.Delete()
	d, n := bytesPtr(spki)
	var ek *C.stepca_external_key
	err = callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_go_external_key(d, n, alg, C.uintptr_t(h), &ek, e)
	})
	runtime.KeepAlive(spki)
	if err != nil {
		return err
	}
	defer C.stepca_external_key_free(ek)
	err = f(ek, state)
	if e, ok := err.(*Error); ok && e.Code == CodeSigner && state.err != nil {
		e.cause = state.err
	}
	return err
}

// CreateCSRWithSigner builds a CSR signed by signer (an HSM, a TPM, a secure element...):
// libstepca sees only the public key. ECDSA P-256/P-384, RSA and Ed25519 are supported.
func CreateCSRWithSigner(signer crypto.Signer, req *CSRRequest, format Format) ([]byte, error) {
	var out []byte
	err := externalKey(signer, func(ek *C.stepca_external_key, _ *signerState) error {
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

// RenewWithSigner renews ch, whose key is held by signer, with a renew token signer signs.
func (c *Client) RenewWithSigner(ch *Chain, signer crypto.Signer) (*Chain, error) {
	var out *Chain
	err := externalKey(signer, func(ek *C.stepca_external_key, _ *signerState) error {
		return c.live(func(cp *C.stepca_client) error {
			return withCChain(ch, func(cc *C.stepca_chain) error {
				var err error
				out, err = callChain(func(nc **C.stepca_chain, e **C.stepca_error) C.stepca_status {
					return C.stepca_renew_external(cp, cc, ek, nc, e)
				})
				return err
			})
		})
	})
	return out, err
}

// sign runs the Go signer for a callback.
func (s *signerState) sign(msg []byte) ([]byte, error) {
	if s.hash == 0 {
		return s.signer.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	h := s.hash.New()
	h.Write(msg)
	return s.signer.Sign(rand.Reader, h.Sum(nil), s.hash)
}
