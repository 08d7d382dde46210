//go:build cgo

package stepca

// #include <stdlib.h>
// #include "stepca.h"
import "C"

import (
	"runtime"
)

// HeldKey is a key pair inside a PKCS#11 token (HSM, smart card, SoftHSM2): CSRs and
// renew tokens are signed in the token; the private key never leaves it. Safe for
// concurrent use; Close releases the token session.
type HeldKey struct {
	h handle[*C.stepca_external_key]
}

func newHeldKey(p *C.stepca_external_key) *HeldKey {
	k := &HeldKey{h: handle[*C.stepca_external_key]{ptr: p}}
	runtime.SetFinalizer(k, (*HeldKey).Close)
	return k
}

func pkcs11Args(module, token, pin, label string) (m, t, p, l *C.char, free func()) {
	m, f1 := cString(module)
	t, f2 := cString(token)
	p, f3 := cSecret([]byte(pin))
	l, f4 := cString(label)
	return m, t, p, l, func() { f1(); f2(); f3(); f4() }
}

// OpenPKCS11Key finds the key pair labelled label in the token labelled token of the
// PKCS#11 module, logging in with pin (wrong PIN: ErrKeyPassphrase; no such key: ErrKey).
func OpenPKCS11Key(module, token, pin, label string) (*HeldKey, error) {
	m, t, p, l, free := pkcs11Args(module, token, pin, label)
	defer free()
	var out *C.stepca_external_key
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_pkcs11_key_open(m, t, p, l, &out, e) }); err != nil {
		return nil, err
	}
	return newHeldKey(out), nil
}

// GeneratePKCS11Key generates a non-extractable key pair of type kt (ECP256, ECP384,
// RSA2048/3072/4096) labelled label inside the token.
func GeneratePKCS11Key(module, token, pin, label string, kt KeyType) (*HeldKey, error) {
	m, t, p, l, free := pkcs11Args(module, token, pin, label)
	defer free()
	var out *C.stepca_external_key
	if err := callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_pkcs11_key_generate(m, t, p, l, C.stepca_key_type(kt), &out, e)
	}); err != nil {
		return nil, err
	}
	return newHeldKey(out), nil
}

func (k *HeldKey) use(f func(*C.stepca_external_key) error) error { return k.h.use(f) }

// PublicKeyDER returns the key's SubjectPublicKeyInfo.
func (k *HeldKey) PublicKeyDER() ([]byte, error) {
	var out []byte
	err := k.use(func(p *C.stepca_external_key) error {
		b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
			return C.stepca_external_key_public_key(p, buf, n, e)
		})
		out = b
		return err
	})
	return out, err
}

// CreateCSR builds a CSR for req signed inside the token.
func (k *HeldKey) CreateCSR(req *CSRRequest, format Format) ([]byte, error) {
	var out []byte
	err := k.use(func(p *C.stepca_external_key) error {
		return withRequest(req, func(rp *C.stepca_csr_request) error {
			b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
				return C.stepca_create_csr_external(p, rp, C.stepca_format(format), buf, n, e)
			})
			out = b
			return err
		})
	})
	return out, err
}

// RenewWithHeldKey renews ch, whose key is in the token, with a renew token signed there.
func (c *Client) RenewWithHeldKey(ch *Chain, k *HeldKey) (*Chain, error) {
	var out *Chain
	err := k.use(func(kp *C.stepca_external_key) error {
		return c.live(func(cp *C.stepca_client) error {
			return withCChain(ch, func(cc *C.stepca_chain) error {
				var err error
				out, err = callChain(func(nc **C.stepca_chain, e **C.stepca_error) C.stepca_status {
					return C.stepca_renew_external(cp, cc, kp, nc, e)
				})
				return err
			})
		})
	})
	return out, err
}

// Close releases the key's token session. Safe to call more than once.
func (k *HeldKey) Close() error {
	k.h.close(func(p *C.stepca_external_key) { C.stepca_external_key_free(p) })
	runtime.SetFinalizer(k, nil)
	return nil
}
