//go:build cgo

package stepca

import "sync"

// handle guards one libstepca object. Calls hold the read lock, so Close (write lock)
// waits for calls in progress, and calls after Close get ErrClosed instead of a freed
// pointer. The deferred unlock keeps the owning Go value reachable until the C call ends.
type handle[P comparable] struct {
	mu  sync.RWMutex
	ptr P // a C pointer; the zero value means closed
}

// use runs f with the live object, shared with other calls.
func (h *handle[P]) use(f func(P) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.ptr == zero[P]() {
		return ErrClosed
	}
	return f(h.ptr)
}

// useExclusive runs f with the live object and no other call in progress.
func (h *handle[P]) useExclusive(f func(P) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr == zero[P]() {
		return ErrClosed
	}
	return f(h.ptr)
}

// close frees the object once; later calls are no-ops.
func (h *handle[P]) close(free func(P)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr != zero[P]() {
		free(h.ptr)
		h.ptr = zero[P]()
	}
}

func zero[P any]() (z P) { return }
