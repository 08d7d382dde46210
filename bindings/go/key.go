//go:build cgo

package stepca

// #include "stepca.h"
import "C"

import (
	"runtime"
)

// KeyType is a type of key to generate.
type KeyType uint32

// Key types.
const (
	RSA2048 = KeyType(C.STEPCA_KEY_RSA_2048)
	RSA3072 = KeyType(C.STEPCA_KEY_RSA_3072)
	RSA4096 = KeyType(C.STEPCA_KEY_RSA_4096)
	ECP256  = KeyType(C.STEPCA_KEY_EC_P256)
	ECP384  = KeyType(C.STEPCA_KEY_EC_P384)
	Ed25519 = KeyType(C.STEPCA_KEY_ED25519)
)

// KeyAlgorithm is the algorithm family of a loaded key.
type KeyAlgorithm uint32

// Key algorithms.
const (
	AlgRSA     = KeyAlgorithm(C.STEPCA_KEY_ALG_RSA)
	AlgECP256  = KeyAlgorithm(C.STEPCA_KEY_ALG_EC_P256)
	AlgECP384  = KeyAlgorithm(C.STEPCA_KEY_ALG_EC_P384)
	AlgEd25519 = KeyAlgorithm(C.STEPCA_KEY_ALG_ED25519)
)

// String names the algorithm (RSA, EC-P256, EC-P384, Ed25519).
func (a KeyAlgorithm) String() string {
	switch a {
	case AlgRSA:
		return "RSA"
	case AlgECP256:
		return "EC-P256"
	case AlgECP384:
		return "EC-P384"
	case AlgEd25519:
		return "Ed25519"
	}
	return unknown("KeyAlgorithm", uint32(a))
}

// Key is a private key held by libstepca, validated when loaded. It is immutable and
// safe for concurrent use. Close wipes it.
type Key struct {
	h handle[*C.stepca_key]
}

func newKey(ptr *C.stepca_key) *Key {
	k := &Key{h: handle[*C.stepca_key]{ptr: ptr}}
	runtime.SetFinalizer(k, (*Key).Close)
	return k
}

// LoadKey loads a private key from PEM or DER: PKCS#8, encrypted PKCS#8, SEC1, PKCS#1,
// or legacy encrypted PEM. passphrase is needed only for encrypted keys.
func LoadKey(data []byte, passphrase []byte) (*Key, error) {
	d, n := bytesPtr(data)
	var pass *C.char
	if passphrase != nil {
		p, free := cSecret(passphrase)
		defer free()
		pass = p
	}
	var ptr *C.stepca_key
	var cerr *C.stepca_error
	st := C.stepca_key_load(d, n, pass, &ptr, &cerr)
	runtime.KeepAlive(data)
	if err := takeError(st, cerr); err != nil {
		return nil, err
	}
	return newKey(ptr), nil
}

// GenerateKey generates a new key.
func GenerateKey(t KeyType) (*Key, error) {
	var ptr *C.stepca_key
	var cerr *C.stepca_error
	if err := takeError(C.stepca_key_generate(C.stepca_key_type(t), &ptr, &cerr), cerr); err != nil {
		return nil, err
	}
	return newKey(ptr), nil
}

// use runs f with the live handle, or returns ErrClosed.
func (k *Key) use(f func(*C.stepca_key) error) error { return k.h.use(f) }

// PEM returns the key as unencrypted PKCS#8 PEM. The caller should wipe it when done.
func (k *Key) PEM() ([]byte, error) {
	var out []byte
	err := k.use(func(p *C.stepca_key) error {
		var err error
		out, err = callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
			return C.stepca_key_to_pem(p, buf, n, e)
		})
		return err
	})
	return out, err
}

// Algorithm returns the key's algorithm family (0 after Close).
func (k *Key) Algorithm() KeyAlgorithm {
	var a KeyAlgorithm
	_ = k.use(func(p *C.stepca_key) error { a = KeyAlgorithm(C.stepca_key_algorithm(p)); return nil })
	return a
}

// Bits returns the key size in bits (0 after Close).
func (k *Key) Bits() int {
	var b int
	_ = k.use(func(p *C.stepca_key) error { b = int(C.stepca_key_bits(p)); return nil })
	return b
}

// Close wipes and frees the key. It is safe to call more than once.
func (k *Key) Close() error {
	k.h.close(func(p *C.stepca_key) { C.stepca_key_free(p) })
	runtime.SetFinalizer(k, nil)
	return nil
}
