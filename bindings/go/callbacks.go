//go:build cgo

package stepca

// Go functions called from C. They live in their own file: a file with //export may not
// define C functions in its preamble.

// #include <stdint.h>
// #include "stepca.h"
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

func goStrings(p **C.char, n C.size_t) []string {
	if n == 0 {
		return nil
	}
	out := make([]string, int(n))
	for i, s := range unsafe.Slice(p, int(n)) {
		out[i] = C.GoString(s)
	}
	return out
}

//export stepcaGoTokenProvider
func stepcaGoTokenProvider(handle C.uintptr_t, claims *C.stepca_token_claims, sink *C.stepca_token_sink) (rc C.int) {
	state := cgo.Handle(handle).Value().(*callState)
	// A panicking provider must not unwind through C and Rust frames: it becomes an error.
	defer func() {
		if r := recover(); r != nil {
			state.err = fmt.Errorf("stepca: token provider panicked: %v", r)
			msg, free := cString(state.err.Error())
			C.stepca_token_sink_set_error(sink, msg, nil)
			free()
			rc = 2
		}
	}()
	cl := Claims{
		Subject:        C.GoString(claims.subject),
		SANs:           goStrings(claims.sans, claims.sans_len),
		DNSNames:       goStrings(claims.dns, claims.dns_len),
		IPAddresses:    goStrings(claims.ips, claims.ips_len),
		EmailAddresses: goStrings(claims.emails, claims.emails_len),
		URIs:           goStrings(claims.uris, claims.uris_len),
		Audience:       C.GoString(claims.audience),
		Purpose:        Purpose(claims.purpose),
		Now:            time.Unix(int64(claims.now), 0),
	}
	if claims.provisioner != nil {
		cl.Provisioner = C.GoString(claims.provisioner)
	}
	if claims.csr_fingerprint != nil {
		cl.CSRFingerprint = C.GoString(claims.csr_fingerprint)
	}
	if claims.not_after != 0 {
		cl.NotAfter = time.Unix(int64(claims.not_after), 0)
	}
	token, err := "", ctxErr(state.ctx)
	if err == nil {
		token, err = state.provider(cl)
	}
	if err != nil {
		state.err = err
		msg, free := cString(err.Error())
		C.stepca_token_sink_set_error(sink, msg, nil)
		free()
		return 1
	}
	tok, free := cSecret([]byte(token))
	defer free()
	if st := C.stepca_token_sink_set(sink, tok, C.size_t(len(token)), nil); st != C.STEPCA_OK {
		state.err = fmt.Errorf("stepca: token provider returned an unusable token (%s)", Code(st))
		return 1
	}
	return 0
}

// signerFor is the signer behind a sign callback's handle, or nil if the handle is gone:
// a signature then fails rather than the process (a Go signer's handle lives as long as
// every libstepca object holding its key, so this is not expected).
func signerFor(handle C.uintptr_t) (s *signerState) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	s, _ = cgo.Handle(handle).Value().(*signerState)
	return s
}

//export stepcaGoSign
func stepcaGoSign(handle C.uintptr_t, data *C.uint8_t, n C.size_t, sink *C.stepca_signature_sink) (rc C.int) {
	state := signerFor(handle)
	if state == nil {
		msg, free := cString("stepca: the key's Go signer was released")
		C.stepca_signature_sink_set_error(sink, msg, nil)
		free()
		return 2
	}
	defer func() {
		if r := recover(); r != nil {
			state.err = fmt.Errorf("stepca: signer panicked: %v", r)
			msg, free := cString(state.err.Error())
			C.stepca_signature_sink_set_error(sink, msg, nil)
			free()
			rc = 2
		}
	}()
	// The algorithm is the key's own for CSRs and tokens, and what the handshake needs in
	// mutual TLS (RSA-PSS for an RSA key under TLS 1.3).
	sig, err := state.sign(C.stepca_signature_sink_algorithm(sink), C.GoBytes(unsafe.Pointer(data), C.int(n)))
	if err != nil {
		state.err = err
		msg, free := cString(err.Error())
		C.stepca_signature_sink_set_error(sink, msg, nil)
		free()
		return 1
	}
	p, l := bytesPtr(sig)
	st := C.stepca_signature_sink_set(sink, p, l, nil)
	runtime.KeepAlive(sig)
	if st != C.STEPCA_OK {
		state.err = fmt.Errorf("stepca: signer returned an unusable signature (%s)", Code(st))
		return 1
	}
	return 0
}

//export stepcaGoTimeSource
func stepcaGoTimeSource(handle C.uintptr_t) (secs C.int64_t) {
	// A panicking time source must not unwind through C and Rust frames, and there is no
	// error to report it with: this reading is the system clock's (see WithTimeSource).
	defer func() {
		if r := recover(); r != nil {
			secs = C.int64_t(time.Now().Unix())
		}
	}()
	return C.int64_t(cgo.Handle(handle).Value().(*timeSource).now().Unix())
}

//export stepcaGoRenewerEvent
func stepcaGoRenewerEvent(handle C.uintptr_t, event *C.stepca_renewer_event) {
	core := cgo.Handle(handle).Value().(*renewerCore)
	// Nothing may unwind into the renewer's Rust thread. Only this package's code runs
	// here (the caller's event function runs on a goroutine of its own), so a panic would
	// be a bug of this package: the event is lost, not the process.
	defer func() { _ = recover() }()
	core.event(event)
}

//export stepcaGoNewKey
func stepcaGoNewKey(handle C.uintptr_t, keyOut **C.stepca_external_key) (rc C.int) {
	core := cgo.Handle(handle).Value().(*renewerCore)
	defer func() {
		if r := recover(); r != nil {
			core.setKeyError(fmt.Errorf("stepca: the new key function panicked: %v", r))
			rc = 2
		}
	}()
	return core.newKeyFor(keyOut)
}

//export stepcaGoLog
func stepcaGoLog(handle C.uintptr_t, level C.stepca_log_level, target, message *C.char) {
	// A panicking slog handler must not unwind into Rust: the record is lost, not the process.
	defer func() { _ = recover() }()
	logger := cgo.Handle(handle).Value().(*slog.Logger)
	logger.Log(context.Background(), slogLevel(level), C.GoString(message), "target", C.GoString(target))
}
