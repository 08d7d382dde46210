//go:build cgo

package stepca

// #include "stepca.h"
import "C"

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"runtime"
)

// TLSCertificate returns the credential for crypto/tls: its chain (leaf first), the parsed
// leaf, and a crypto.Signer for its key. A key in memory is copied into Go's own
// (*ecdsa.PrivateKey, *rsa.PrivateKey or ed25519.PrivateKey); a held key signs where it
// lives (a *HeldKey in its token, also after the HeldKey given to NewCredentialWithSigner
// was closed; a Go signer through its Sign) for as long as the credential is not closed.
func (cr *Credential) TLSCertificate() (*tls.Certificate, error) {
	if cr == nil {
		return nil, invalid("credential", "must not be nil")
	}
	var key crypto.Signer
	err := cr.h.use(func(p *C.stepca_credential) error {
		switch {
		case cr.held != nil:
			key = keptHeldKey{k: cr.held, keep: cr}
		case cr.signer != nil:
			key = keptSigner{s: cr.signer.signer, keep: cr}
		default:
			var err error
			key, err = memoryKey(p)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &tls.Certificate{PrivateKey: key, Leaf: cr.chain.Leaf()}
	for _, c := range cr.chain.Certificates {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// memoryKey copies the credential's key in memory into Go's crypto types.
func memoryKey(p *C.stepca_credential) (crypto.Signer, error) {
	var k *C.stepca_key
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_credential_key(p, &k, e) }); err != nil {
		return nil, err
	}
	defer C.stepca_key_free(k)
	pemBytes, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
		return C.stepca_key_to_pem(k, buf, n, e)
	})
	if err != nil {
		return nil, err
	}
	defer clear(pemBytes)
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, &Error{Code: CodeKey, Message: "key: libstepca's PEM does not decode"}
	}
	defer clear(block.Bytes)
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, &Error{Code: CodeKey, Message: "key: " + err.Error()}
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, &Error{Code: CodeKey, Message: fmt.Sprintf("key: %T is not a crypto.Signer", parsed)}
	}
	return signer, nil
}

// keptSigner is a credential's Go signer that keeps the credential (and so the key's
// handle and, for a key a Renewer made, the key itself) alive while crypto/tls uses it.
type keptSigner struct {
	s    crypto.Signer
	keep *Credential
}

func (k keptSigner) Public() crypto.PublicKey { return k.s.Public() }

func (k keptSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b, err := k.s.Sign(r, digest, opts)
	runtime.KeepAlive(k.keep)
	return b, err
}
