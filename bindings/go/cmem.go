//go:build cgo

package stepca

// #include <stdlib.h>
// #include <string.h>
// #include "stepca.h"
import "C"

import "unsafe"

// cString copies s into C memory; the returned function frees it. Use it for strings
// that are not secret.
func cString(s string) (*C.char, func()) {
	p := C.CString(s)
	return p, func() { C.free(unsafe.Pointer(p)) }
}

// cSecret copies a secret into C memory; the returned function wipes and frees it.
func cSecret(b []byte) (*C.char, func()) {
	p := (*C.char)(C.malloc(C.size_t(len(b) + 1)))
	if len(b) > 0 {
		C.memcpy(unsafe.Pointer(p), unsafe.Pointer(&b[0]), C.size_t(len(b)))
	}
	*(*byte)(unsafe.Add(unsafe.Pointer(p), len(b))) = 0
	return p, func() {
		C.memset(unsafe.Pointer(p), 0, C.size_t(len(b)+1))
		C.free(unsafe.Pointer(p))
	}
}

// bytesPtr points C at a Go byte slice for the duration of a call (cgo allows Go memory
// without Go pointers inside). Empty slices give NULL, which libstepca reports.
func bytesPtr(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// callBuffer runs f, which hands out a new buffer, and copies the buffer into Go memory.
func callBuffer(f func(**C.uint8_t, *C.size_t, **C.stepca_error) C.stepca_status) ([]byte, error) {
	var buf *C.uint8_t
	var n C.size_t
	if err := callC(func(e **C.stepca_error) C.stepca_status { return f(&buf, &n, e) }); err != nil {
		return nil, err
	}
	return takeBuffer(buf, n), nil
}

// takeBuffer copies a libstepca buffer into Go memory and frees (wipes) the original.
func takeBuffer(p *C.uint8_t, n C.size_t) []byte {
	if p == nil {
		return nil
	}
	out := C.GoBytes(unsafe.Pointer(p), C.int(n))
	C.stepca_free(unsafe.Pointer(p))
	return out
}
