//go:build cgo

package stepca

// #include <stdlib.h>
// #include "stepca.h"
// #if STEPCA_VERSION_MAJOR != 0 || STEPCA_VERSION_MINOR < 1
// #error "this Go package needs libstepca 0.x with x >= 1"
// #endif
import "C"

import (
	"fmt"
	"unsafe"
)

// Version is the version of the libstepca library linked at run time.
func Version() string { return C.GoString(C.stepca_version()) }

// checkVersion refuses a library whose version differs from the header the package was
// compiled against.
func checkVersion() error {
	if got := uint32(C.stepca_version_number()); got != uint32(C.STEPCA_VERSION_NUMBER) {
		return fmt.Errorf("stepca: compiled against libstepca %d but linked with %s", C.STEPCA_VERSION_NUMBER, Version())
	}
	return nil
}

// Capabilities returns libstepca's capabilities document (JSON): key types, signature
// algorithms, SAN types and features that work in this build.
func Capabilities() string { return C.GoString(C.stepca_capabilities()) }

// Supports reports whether this build of libstepca supports a capability by name (a
// signature algorithm such as "ECDSA-P256-SHA256", or a feature listed by Capabilities).
func Supports(name string) bool {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return bool(C.stepca_supports(cs))
}
