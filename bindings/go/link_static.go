//go:build cgo && stepca_static

package stepca

// Static linking (-tags stepca_static): libstepca.a plus what the Rust runtime needs
// (stepca.pc's Libs.private, hence --static). pkg-config's -lstepca would pick
// libstepca.so when both are installed side by side, so libstepca.a is named first with
// -Bstatic; --as-needed then keeps the later -lstepca from adding libstepca.so as a
// dependency that nothing uses.

// #cgo pkg-config: --static stepca
// #cgo LDFLAGS: -Wl,--as-needed -Wl,-Bstatic -lstepca -Wl,-Bdynamic
import "C"
