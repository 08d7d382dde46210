//go:build !cgo

package stepca

// This package wraps a C library and cannot work without cgo. Rather than a stub that
// fails at run time, the build stops here with this name in the error:
var _ = stepca_requires_cgo__build_with_CGO_ENABLED_1
