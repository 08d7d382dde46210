//go:build cgo

package stepca

// #include <stdlib.h>
// #include "stepca.h"
import "C"

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
)

// HeldKey is a key pair inside a PKCS#11 token (HSM, smart card, SoftHSM2): CSRs, renew
// tokens and mutual-TLS handshakes are signed in the token; the private key never leaves
// it. It is a crypto.Signer, so crypto/x509, crypto/tls and others can sign with it too.
// Safe for concurrent use; Close releases the token session.
type HeldKey struct {
	h   handle[*C.stepca_external_key]
	pub crypto.PublicKey // read once: Public cannot fail, nor wait on the token
	// refs counts the owners of the C key: the caller until Close, and each Credential
	// made with the key, which signs in Go with it (TLSCertificate, a Renewer's
	// GetCertificate) and so must keep it open after the caller's Close. The last frees it.
	refs   atomic.Int64
	closed atomic.Bool // the caller's Close: its methods give ErrClosed
}

// newHeldKey takes ownership of p, freeing it if its public key cannot be read.
func newHeldKey(p *C.stepca_external_key) (*HeldKey, error) {
	spki, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_external_key_public_key(p, buf, n, e)
	})
	var pub crypto.PublicKey
	if err == nil {
		pub, err = x509.ParsePKIXPublicKey(spki)
		if err != nil {
			err = &Error{Code: CodeKey, Message: "public key: " + err.Error()}
		}
	}
	if err != nil {
		C.stepca_external_key_free(p)
		return nil, err
	}
	k := &HeldKey{h: handle[*C.stepca_external_key]{ptr: p}, pub: pub}
	k.refs.Store(1)
	runtime.SetFinalizer(k, (*HeldKey).Close)
	return k, nil
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
	return newHeldKey(out)
}

// OpenPKCS11KeyURI opens the key an RFC 7512 PKCS#11 URI names, as step's --kms takes it:
// "pkcs11:token=<token label>;object=<key label>?module-path=<module>&pin-source=file:<path>"
// (id= instead of object=; pin-value=<PIN> instead of pin-source=). A malformed URI gives
// ErrInvalidArgument naming "uri" and the attribute; a module, token or key it names that
// is not there fails as OpenPKCS11Key does (a wrong PIN: ErrKeyPassphrase).
func OpenPKCS11KeyURI(uri string) (*HeldKey, error) {
	// The URI may carry the PIN (pin-value): wiped after the call.
	u, free := cSecret([]byte(uri))
	defer free()
	var out *C.stepca_external_key
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_pkcs11_key_open_uri(u, &out, e) }); err != nil {
		return nil, err
	}
	return newHeldKey(out)
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
	return newHeldKey(out)
}

// use runs f with the live key, or returns ErrClosed once the caller closed it.
func (k *HeldKey) use(f func(*C.stepca_external_key) error) error {
	if k.closed.Load() {
		return ErrClosed
	}
	return k.h.use(f)
}

// retain adds an owner of the C key (a Credential); false when it is already freed.
func (k *HeldKey) retain() bool {
	for {
		n := k.refs.Load()
		if n == 0 {
			return false
		}
		if k.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops an owner; the last one frees the C key. nil is a no-op.
func (k *HeldKey) release() {
	if k != nil && k.refs.Add(-1) == 0 {
		k.h.close(func(p *C.stepca_external_key) { C.stepca_external_key_free(p) })
	}
}

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

// Public returns the key's public key (*ecdsa.PublicKey or *rsa.PublicKey), also after
// Close.
func (k *HeldKey) Public() crypto.PublicKey { return k.pub }

// Sign signs digest in the token, as crypto.Signer does: opts names the hash that made
// digest (ECDSA keys: SHA-256 for P-256, SHA-384 for P-384; RSA keys: SHA-256, SHA-384 or
// SHA-512), and *rsa.PSSOptions asks for RSA-PSS, whose salt the token makes as long as the
// hash (rsa.PSSSaltLengthEqualsHash; rsa.PSSSaltLengthAuto and the hash's length are
// accepted as well, since such a signature verifies under either). Other options give
// ErrUnsupported. ECDSA signatures are DER, as crypto/ecdsa's. rand is not used: the
// token has its own.
func (k *HeldKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.sign(k.use, digest, opts)
}

// sign signs digest through use: the caller's (HeldKey.use) or a Credential's share
// (h.use), which outlives the caller's Close.
func (k *HeldKey) sign(use func(func(*C.stepca_external_key) error) error, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	alg, err := k.digestAlgorithm(opts)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = use(func(p *C.stepca_external_key) error {
		d, n := bytesPtr(digest)
		b, err := callBuffer(func(buf **C.uint8_t, l *C.size_t, e **C.stepca_error) C.stepca_status {
			return C.stepca_pkcs11_key_sign_digest(p, alg, d, n, buf, l, e)
		})
		runtime.KeepAlive(digest)
		out = b
		return err
	})
	return out, err
}

// digestAlgorithm maps crypto.Signer's options onto libstepca's scheme for this key.
func (k *HeldKey) digestAlgorithm(opts crypto.SignerOpts) (C.stepca_sig_alg, error) {
	if opts == nil {
		return 0, invalid("opts", "must name the hash")
	}
	h := opts.HashFunc()
	unsupported := func(format string, args ...any) (C.stepca_sig_alg, error) {
		return 0, &Error{Code: CodeUnsupported, Message: "signer: " + fmt.Sprintf(format, args...)}
	}
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		// libstepca takes a P-256 key's digest as SHA-256's and a P-384 key's as SHA-384's.
		switch {
		case pub.Curve == elliptic.P256() && h == crypto.SHA256:
			return C.STEPCA_SIG_ECDSA_P256_SHA256, nil
		case pub.Curve == elliptic.P384() && h == crypto.SHA384:
			return C.STEPCA_SIG_ECDSA_P384_SHA384, nil
		}
		return unsupported("a %s token key signs only %v digests, not %v", pub.Curve.Params().Name, curveHash(pub.Curve), h)
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if s := pss.SaltLength; s != rsa.PSSSaltLengthEqualsHash && s != rsa.PSSSaltLengthAuto && s != h.Size() {
				return unsupported("an RSA-PSS salt of %d bytes; the token's salt is as long as the hash", s)
			}
			switch h {
			case crypto.SHA256:
				return C.STEPCA_SIG_RSA_PSS_SHA256, nil
			case crypto.SHA384:
				return C.STEPCA_SIG_RSA_PSS_SHA384, nil
			case crypto.SHA512:
				return C.STEPCA_SIG_RSA_PSS_SHA512, nil
			}
			return unsupported("RSA-PSS with %v", h)
		}
		switch h {
		case crypto.SHA256:
			return C.STEPCA_SIG_RSA_PKCS1_SHA256, nil
		case crypto.SHA384:
			return C.STEPCA_SIG_RSA_PKCS1_SHA384, nil
		case crypto.SHA512:
			return C.STEPCA_SIG_RSA_PKCS1_SHA512, nil
		}
		return unsupported("RSA PKCS#1 v1.5 with %v", h)
	}
	return unsupported("a %T token key", k.pub)
}

func curveHash(c elliptic.Curve) crypto.Hash {
	if c == elliptic.P384() {
		return crypto.SHA384
	}
	return crypto.SHA256
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

// Close releases the key's token session (a Credential made with the key keeps its own, and
// signs with it in Go as before); its methods give ErrClosed afterwards. Safe to call more
// than once.
func (k *HeldKey) Close() error {
	if k.closed.CompareAndSwap(false, true) {
		k.release()
	}
	runtime.SetFinalizer(k, nil)
	return nil
}

// keptHeldKey signs with a Credential's share of a HeldKey: a crypto.Signer for crypto/tls
// that works after the caller closed the HeldKey, for as long as the credential it keeps
// reachable is not closed.
type keptHeldKey struct {
	k    *HeldKey
	keep *Credential
}

func (s keptHeldKey) Public() crypto.PublicKey { return s.k.pub }

func (s keptHeldKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b, err := s.k.sign(s.k.h.use, digest, opts)
	runtime.KeepAlive(s.keep)
	return b, err
}
