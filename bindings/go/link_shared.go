//go:build cgo && !stepca_static

package stepca

// Shared linking against the checkout's build/lib (`make` at the repository root). The
// rpath lets tests and examples run without installing; override with CGO_LDFLAGS.

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../build/lib -lstepca -Wl,-rpath,${SRCDIR}/../../build/lib
import "C"
