//go:build cgo

package stepca

import "context"

// How a context is honoured is documented in doc.go ("Contexts").

// callContext runs call, which talks to the CA, honouring ctx as doc.go says. discard releases a
// result that arrives after the caller gave up (a client, a provisioner).
func callContext[T any](ctx context.Context, call func() (T, error), discard func(T)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if ctx.Done() == nil {
		// Never cancelled: run on the caller's goroutine, as the plain methods always did.
		return call()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := call()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-ch: // finished as the context ended: keep the outcome
			return r.v, r.err
		default:
		}
		go func() {
			if r := <-ch; r.err == nil && discard != nil {
				discard(r.v)
			}
		}()
		return zero, ctx.Err()
	}
}

// callContextErr is callContext for calls that return only an error.
func callContextErr(ctx context.Context, call func() error) error {
	_, err := callContext(ctx, func() (struct{}, error) { return struct{}{}, call() }, nil)
	return err
}

// ctxErr is the error of a done context in the token provider's path, or nil.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}
