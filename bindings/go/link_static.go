//go:build cgo && stepca_static

package stepca

// Static linking (-tags stepca_static): libstepca.a plus what the Rust runtime needs.

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: ${SRCDIR}/../../build/lib/libstepca.a -lpthread -ldl -lm
import "C"
