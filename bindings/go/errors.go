//go:build cgo

package stepca

// #include <stdlib.h>
// #include "stepca.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Code is libstepca's status code. The numbers are permanent.
type Code int

// The codes, as in stepca.h.
const (
	CodeOK                = Code(C.STEPCA_OK)
	CodeInvalidArgument   = Code(C.STEPCA_ERR_INVALID_ARGUMENT)
	CodeNullArgument      = Code(C.STEPCA_ERR_NULL_ARGUMENT)
	CodePanic             = Code(C.STEPCA_ERR_PANIC)
	CodeInternal          = Code(C.STEPCA_ERR_INTERNAL)
	CodeUnsupported       = Code(C.STEPCA_ERR_UNSUPPORTED)
	CodeKey               = Code(C.STEPCA_ERR_KEY)
	CodeKeyPassphrase     = Code(C.STEPCA_ERR_KEY_PASSPHRASE)
	CodeCSR               = Code(C.STEPCA_ERR_CSR)
	CodeTokenProvider     = Code(C.STEPCA_ERR_TOKEN_PROVIDER)
	CodeNoToken           = Code(C.STEPCA_ERR_NO_TOKEN)
	CodeSigner            = Code(C.STEPCA_ERR_SIGNER)
	CodeTransport         = Code(C.STEPCA_ERR_TRANSPORT)
	CodeTLS               = Code(C.STEPCA_ERR_TLS)
	CodeTimeout           = Code(C.STEPCA_ERR_TIMEOUT)
	CodeClock             = Code(C.STEPCA_ERR_CLOCK)
	CodeCARejected        = Code(C.STEPCA_ERR_CA_REJECTED)
	CodeMalformedResponse = Code(C.STEPCA_ERR_MALFORMED_RESPONSE)
	CodeChainInvalid      = Code(C.STEPCA_ERR_CHAIN_INVALID)
	CodeFingerprint       = Code(C.STEPCA_ERR_FINGERPRINT)
	CodeIO                = Code(C.STEPCA_ERR_IO)
)

// String is libstepca's fixed description of the code.
func (c Code) String() string { return C.GoString(C.stepca_status_str(C.int(c))) }

// Error is a libstepca failure.
type Error struct {
	// Code says what kind of failure it is.
	Code Code
	// Message names the offending field or carries step-ca's message.
	Message string
	// HTTPStatus is the status step-ca answered with, or 0.
	HTTPStatus int
	// CAMessage is step-ca's own message, if it sent one.
	CAMessage string
	// Received is what step-ca sent when it answered with success but the answer failed
	// libstepca's checks (CodeChainInvalid, CodeMalformedResponse): the issued chain as
	// PEM or the raw body, so that an issued certificate is never lost.
	Received string

	cause   error
	skew    time.Duration
	hasSkew bool
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "stepca: " + e.Code.String()
	}
	return "stepca: " + e.Message
}

// ClockSkew is how far the client's clock was from the CA's when the call failed,
// measured from the Date header of the CA's answer, to whole seconds (saturating at the
// Duration's limits): positive when the client is ahead of the CA. ok is false when the
// failure came without such an answer (a transport or TLS failure, a check made before
// any request, ...). Beyond step-ca's 60 s leeway the Message says so too ("the time
// source is 600 s ahead of the CA's (step-ca allows 60 s)").
func (e *Error) ClockSkew() (skew time.Duration, ok bool) { return e.skew, e.hasSkew }

// Unwrap returns the error a token provider or a crypto.Signer returned, if that is what
// failed.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is the sentinel for e's code (a sentinel is an *Error with
// only a Code).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.cause == nil && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument   = &Error{Code: CodeInvalidArgument}
	ErrNullArgument      = &Error{Code: CodeNullArgument}
	ErrPanic             = &Error{Code: CodePanic}
	ErrInternal          = &Error{Code: CodeInternal}
	ErrUnsupported       = &Error{Code: CodeUnsupported}
	ErrKey               = &Error{Code: CodeKey}
	ErrKeyPassphrase     = &Error{Code: CodeKeyPassphrase}
	ErrCSR               = &Error{Code: CodeCSR}
	ErrTokenProvider     = &Error{Code: CodeTokenProvider}
	ErrNoToken           = &Error{Code: CodeNoToken}
	ErrSigner            = &Error{Code: CodeSigner}
	ErrTransport         = &Error{Code: CodeTransport}
	ErrTLS               = &Error{Code: CodeTLS}
	ErrTimeout           = &Error{Code: CodeTimeout}
	ErrClock             = &Error{Code: CodeClock}
	ErrCARejected        = &Error{Code: CodeCARejected}
	ErrMalformedResponse = &Error{Code: CodeMalformedResponse}
	ErrChainInvalid      = &Error{Code: CodeChainInvalid}
	ErrFingerprint       = &Error{Code: CodeFingerprint}
	ErrIO                = &Error{Code: CodeIO}
)

// ErrClosed is returned by methods of a Client, Key, Credential, HeldKey or Renewer after
// Close.
var ErrClosed = errors.New("stepca: use of a closed object")

// takeError turns a status and error object into a Go error, freeing the object.
// callC runs f with a fresh error out-pointer and converts what it reports.
func callC(f func(**C.stepca_error) C.stepca_status) error {
	var e *C.stepca_error
	return takeError(f(&e), e)
}

func takeError(st C.stepca_status, cerr *C.stepca_error) error {
	if st == C.STEPCA_OK {
		C.stepca_error_free(cerr)
		return nil
	}
	e := &Error{Code: Code(st)}
	if cerr != nil {
		e.fill(cerr)
		C.stepca_error_free(cerr)
	}
	return e
}

// borrowedError copies an error object libstepca lends to a callback (a renewer event's),
// which stays libstepca's to free.
func borrowedError(cerr *C.stepca_error) *Error {
	e := &Error{Code: Code(C.stepca_error_code(cerr))}
	e.fill(cerr)
	return e
}

// fill copies what the error object carries besides its code.
func (e *Error) fill(cerr *C.stepca_error) {
	e.Message = C.GoString(C.stepca_error_message(cerr))
	e.HTTPStatus = int(C.stepca_error_http_status(cerr))
	if m := C.stepca_error_ca_message(cerr); m != nil {
		e.CAMessage = C.GoString(m)
	}
	if r := C.stepca_error_received(cerr); r != nil {
		e.Received = C.GoString(r)
	}
	var skew C.int64_t
	if C.stepca_error_clock_skew(cerr, &skew) {
		e.skew, e.hasSkew = seconds(int64(skew)), true
	}
}

// seconds converts whole seconds to a Duration, saturating beyond its ±292 years (a time
// source in year 1 is that far off).
func seconds(s int64) time.Duration {
	const limit = int64(math.MaxInt64 / int64(time.Second))
	switch {
	case s > limit:
		return math.MaxInt64
	case s < -limit:
		return math.MinInt64
	}
	return time.Duration(s) * time.Second
}

func invalid(field, format string, args ...any) error {
	return &Error{Code: CodeInvalidArgument, Message: field + ": " + fmt.Sprintf(format, args...)}
}
