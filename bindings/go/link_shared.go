//go:build cgo && !stepca_static

package stepca

// libstepca is found through pkg-config (stepca.pc, written by `make install`), so the
// package builds wherever the library is installed. For a checkout's own build, point
// pkg-config at the uninstalled stepca.pc that `make` writes:
// PKG_CONFIG_PATH=/path/to/checkout/build/pkgconfig.

// #cgo pkg-config: stepca
import "C"
