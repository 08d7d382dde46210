//go:build cgo

package stepca

// #include <stdint.h>
// #include "stepca.h"
//
// extern void stepcaGoRenewerEvent(uintptr_t handle, stepca_renewer_event *event);
// extern int stepcaGoNewKey(uintptr_t handle, stepca_external_key **key_out);
//
// static void stepca_go_renewer_event_trampoline(void *user_data, const stepca_renewer_event *event) {
//   stepcaGoRenewerEvent((uintptr_t)user_data, (stepca_renewer_event *)event);
// }
// static int stepca_go_new_key_trampoline(void *user_data, stepca_external_key **key_out) {
//   return stepcaGoNewKey((uintptr_t)user_data, key_out);
// }
// static stepca_status stepca_go_renewer_new(const stepca_client *client, const stepca_credential *cred,
//                                            uintptr_t handle, stepca_renewer **out, stepca_error **e) {
//   return stepca_renewer_new(client, cred, stepca_go_renewer_event_trampoline, (void *)handle, out, e);
// }
// static stepca_status stepca_go_renewer_set_rekey(stepca_renewer *r, uint32_t every, int key_fn,
//                                                  uintptr_t handle, stepca_error **e) {
//   return stepca_renewer_set_rekey(r, every, key_fn ? stepca_go_new_key_trampoline : NULL,
//                                   (void *)handle, e);
// }
import "C"

import (
	"context"
	"crypto"
	"crypto/tls"
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RenewerEventKind says what a RenewerEvent reports.
type RenewerEventKind int

// The events a Renewer reports.
const (
	// RenewerScheduled: the next renewal is due at At.
	RenewerScheduled = RenewerEventKind(C.STEPCA_RENEWER_SCHEDULED)
	// RenewerRenewed: a renewal (or a rekey: Rekeyed) succeeded and its files are
	// written; Credential is the new credential, already the one GetCertificate serves.
	RenewerRenewed = RenewerEventKind(C.STEPCA_RENEWER_RENEWED)
	// RenewerFailed: a renewal failed (Err, Attempt failures in a row); it is retried at
	// At.
	RenewerFailed = RenewerEventKind(C.STEPCA_RENEWER_FAILED)
	// RenewerWriteFailed: writing the renewed Credential failed (Err, ErrIO naming the
	// path). It is in use all the same (GetCertificate serves it) and written again at At;
	// RenewerRenewed follows once it is.
	RenewerWriteFailed = RenewerEventKind(C.STEPCA_RENEWER_WRITE_FAILED)
)

func (k RenewerEventKind) String() string {
	switch k {
	case RenewerScheduled:
		return "scheduled"
	case RenewerRenewed:
		return "renewed"
	case RenewerFailed:
		return "failed"
	case RenewerWriteFailed:
		return "write failed"
	}
	return unknown("RenewerEventKind", int(k))
}

// RenewerEvent is what a Renewer reports, in order, one at a time.
type RenewerEvent struct {
	Kind RenewerEventKind
	// Attempt counts the failures in a row, this one included: renewals (RenewerFailed)
	// or writes (RenewerWriteFailed); else 0.
	Attempt int
	// At is when the renewal is due (RenewerScheduled) or tried again (RenewerFailed,
	// RenewerWriteFailed), to the second, by the client's clock; else the zero Time.
	At time.Time
	// Rekeyed says the renewal was a rekey: the key is new (RenewerRenewed).
	Rekeyed bool
	// Credential is the new credential (RenewerRenewed, RenewerWriteFailed), else nil: a
	// copy that belongs to the receiver, to Close when done (a finalizer backs that up).
	// A function and a channel given the same event share it.
	Credential *Credential
	// Err says why (RenewerFailed, RenewerWriteFailed), else nil: a *Error, so errors.Is
	// and errors.As work (ErrTransport, ErrCARejected, ErrIO, ...). A failure of the new
	// key function (WithRekey) is ErrSigner with the function's own error inside.
	Err error
}

// renewerConfig is what the options set.
type renewerConfig struct {
	schedule           C.stepca_schedule
	seconds            uint64
	auth               RenewAuth
	certFile, keyFile  string
	retryMin, retryMax time.Duration
	retry              bool
	rekeyEvery         uint32
	newKey             func() (crypto.Signer, error)
	onEvent            func(RenewerEvent)
	events             chan<- RenewerEvent
	err                error // the first option that cannot work
}

func (c *renewerConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// RenewerOption configures a Renewer.
type RenewerOption func(*renewerConfig)

// scheduleSeconds converts a schedule's duration to whole seconds (at least one).
func scheduleSeconds(c *renewerConfig, field string, d time.Duration) uint64 {
	if d < time.Second {
		c.fail(invalid(field, "must be at least a second, not %v", d))
		return 0
	}
	return uint64(d / time.Second)
}

// WithExpiresIn renews when no more than d (whole seconds) is left of the certificate's
// life, less a jitter of up to a tenth of d (step's --expires-in). The default renews
// about two thirds into the life, with jitter (step's default); a certificate issued a
// moment ago (step-ca backdates notBefore by a minute) waits for half of what is left.
func WithExpiresIn(d time.Duration) RenewerOption {
	return func(c *renewerConfig) {
		c.schedule, c.seconds = C.STEPCA_SCHEDULE_EXPIRES_IN, scheduleSeconds(c, "expires_in", d)
	}
}

// WithRenewPeriod renews every d (whole seconds), counted from the last renewal or from
// the first certificate's notBefore (step's --renew-period).
func WithRenewPeriod(d time.Duration) RenewerOption {
	return func(c *renewerConfig) {
		c.schedule, c.seconds = C.STEPCA_SCHEDULE_PERIOD, scheduleSeconds(c, "renew_period", d)
	}
}

// WithRenewAuth sets how renewals authenticate (default RenewAuto: mutual TLS, or the
// certificate-signed token once the certificate has expired, when the CA allows it).
// Rekeys always use mutual TLS.
func WithRenewAuth(auth RenewAuth) RenewerOption {
	return func(c *renewerConfig) { c.auth = auth }
}

// WithFiles writes each renewed chain to certPath (PEM, mode 0644) and, after a rekey of a
// key in memory, the new key to keyPath (PKCS#8 PEM, mode 0600; "" for none), each
// atomically, the key first. A RenewerRenewed event comes once they are written.
func WithFiles(certPath, keyPath string) RenewerOption {
	return func(c *renewerConfig) { c.certFile, c.keyFile = certPath, keyPath }
}

// WithRetry sets the delays after a failure: min, doubling up to max, each less up to a
// quarter at random (defaults: 5 s and 5 min). Failures are retried for as long as the
// renewer runs, so a CA outage only delays renewal.
func WithRetry(min, max time.Duration) RenewerOption {
	return func(c *renewerConfig) {
		switch {
		case min < time.Millisecond:
			c.fail(invalid("retry_min", "must be at least a millisecond, not %v", min))
		case max < min:
			c.fail(invalid("retry_max", "must not be less than retry_min (%v), not %v", min, max))
		}
		c.retryMin, c.retryMax, c.retry = min, max, true
	}
}

// WithRekey rekeys instead of renewing every `every` renewals (0: never, the default).
//
// newKey makes each new key. nil is for a key in memory, which is then replaced by a new
// one of the same type (give a key path with WithFiles when writing the chain). A held key
// (a *HeldKey or another crypto.Signer) needs newKey: typically a function returning
// GeneratePKCS11Key in the same token, under a new label. It runs on the renewer's thread
// once per rekey attempt; its error fails the attempt (RenewerFailed with ErrSigner and
// the error inside) and the attempt is retried. The renewer owns the keys newKey returns:
// they sign through their Sign method (a *HeldKey signs in its token) and are closed (if
// they have a Close method) once neither the renewer nor a credential it gave out uses
// them any more.
func WithRekey(every int, newKey func() (crypto.Signer, error)) RenewerOption {
	return func(c *renewerConfig) {
		if every < 0 {
			c.fail(invalid("rekey_every", "must not be negative, not %d", every))
		}
		c.rekeyEvery = uint32(min(max(every, 0), math.MaxUint32))
		c.newKey = newKey
	}
}

// WithEventFunc calls f with each event, in order, on a goroutine of the renewer's (never
// on its renewal thread): a slow f delays later events, never a renewal. f may call the
// renewer's methods, Stop and Close included. Events not yet delivered when the renewer is
// closed are dropped; a call in progress ends on its own.
func WithEventFunc(f func(RenewerEvent)) RenewerOption {
	return func(c *renewerConfig) { c.onEvent = f }
}

// WithEventChannel sends each event to ch, in order, from a goroutine of the renewer's
// (after the function of WithEventFunc, if any): a full channel delays later events,
// never a renewal. Up to 1024 events wait for a slow receiver; beyond that the oldest is
// dropped (and its credential closed). Nothing is sent after Close; the channel is never
// closed by the renewer.
func WithEventChannel(ch chan<- RenewerEvent) RenewerOption {
	return func(c *renewerConfig) { c.events = ch }
}

// Renewer keeps a credential's certificate fresh on a background thread of libstepca's:
// it renews on a schedule, retries through CA outages, optionally rekeys and writes the
// files, and reports each step as a RenewerEvent. GetCertificate and
// GetClientCertificate hand crypto/tls the current certificate, so that a server or a
// client picks up each renewal without a restart.
//
// Start it (or Run it until a context ends), stop it and start it again as needed; Close
// frees it. A started renewer keeps running until Stop or Close, also when nothing refers
// to it any more. Safe for concurrent use.
type Renewer struct {
	h         handle[*C.stepca_renewer]
	core      *renewerCore
	cgoHandle cgo.Handle // reaches core from the C callbacks
	runMu     sync.Mutex // orders Start, Stop and Close
}

// renewerCore is what the C callbacks reach, on the renewer's thread, through a cgo.Handle.
// They never take the Renewer's handle lock: Close holds it while freeing the C renewer,
// which waits for them.
type renewerCore struct {
	ptr    *C.stepca_renewer // valid while a callback runs: freeing it waits for them
	newKey func() (crypto.Signer, error)
	queue  *eventQueue // nil when nobody listens

	// keys are the held keys the renewer's credentials may have: the first credential's,
	// those given to Replace (kept until Close), and those newKey made (kept while the
	// renewer may use them). A key in memory needs nothing of Go's.
	keysMu sync.Mutex
	keys   []*keyEntry
	keyErr error // newKey's last failure, for the failure event that follows it

	tlsMu    sync.Mutex // orders rebuilding the certificate with Replace
	cert     atomic.Pointer[tlsResult]
	closed   atomic.Bool
	closedCh chan struct{}

	pin *Renewer // while started (under runMu): a running renewer is not collected
}

// keyEntry is a held key and the renewer's share of what it needs.
type keyEntry struct {
	pub   crypto.PublicKey
	held  *HeldKey     // a HeldKey signing in its token, or
	state *signerState // a Go signer behind the sign callback
	cb    *sharedHandle
	// made by newKey; pending until a renewal with it is reported (or its attempt failed)
	generated, pending bool
}

func (e *keyEntry) release() {
	if e != nil {
		e.held.release()
		e.cb.release()
	}
}

// entryFor takes a share of cr's held key, if it has one; cr must be open (called under
// its lock).
func entryFor(cr *Credential) (*keyEntry, error) {
	switch {
	case cr.held != nil:
		if !cr.held.retain() {
			return nil, ErrClosed
		}
		return &keyEntry{pub: cr.held.pub, held: cr.held}, nil
	case cr.signer != nil:
		if !cr.cb.tryRetain() {
			return nil, ErrClosed
		}
		return &keyEntry{pub: cr.signer.signer.Public(), state: cr.signer, cb: cr.cb}, nil
	}
	return nil, nil
}

type tlsResult struct {
	cert *tls.Certificate
	err  error
	cred *Credential // the certificate's own, closed with the renewer
}

// NewRenewer makes a renewer (not started) for cred at client's CA. Both are shared, not
// consumed: they may be closed while it runs. Options that cannot work are refused here
// naming the field (ErrInvalidArgument); settings that cannot work together (a held key
// rekeyed without a new key function, a key in memory rekeyed while writing the chain but
// not the key, ...) are refused by Start.
func NewRenewer(client *Client, cred *Credential, opts ...RenewerOption) (*Renewer, error) {
	if client == nil {
		return nil, invalid("client", "must not be nil")
	}
	if cred == nil {
		return nil, invalid("credential", "must not be nil")
	}
	cfg := renewerConfig{schedule: C.STEPCA_SCHEDULE_TWO_THIRDS, auth: RenewAuto}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	core := &renewerCore{newKey: cfg.newKey, closedCh: make(chan struct{})}
	if cfg.onEvent != nil || cfg.events != nil {
		core.queue = newEventQueue(cfg.onEvent, cfg.events)
	}
	h := cgo.NewHandle(core)
	var p *C.stepca_renewer
	err := client.live(func(cp *C.stepca_client) error {
		return cred.h.use(func(crp *C.stepca_credential) error {
			entry, err := entryFor(cred)
			if err != nil {
				return err
			}
			if err := callC(func(e **C.stepca_error) C.stepca_status {
				return C.stepca_go_renewer_new(cp, crp, C.uintptr_t(h), &p, e)
			}); err != nil {
				entry.release()
				return err
			}
			if entry != nil {
				core.keys = append(core.keys, entry)
			}
			return nil
		})
	})
	if err != nil {
		h.Delete()
		return nil, err
	}
	core.ptr = p
	if err := configure(p, &cfg, h); err != nil {
		C.stepca_renewer_free(p)
		h.Delete()
		core.releaseKeys()
		return nil, err
	}
	core.rebuild()
	r := &Renewer{h: handle[*C.stepca_renewer]{ptr: p}, core: core, cgoHandle: h}
	if core.queue != nil {
		go core.queue.run()
	}
	runtime.SetFinalizer(r, (*Renewer).Close)
	return r, nil
}

// configure applies the options to a new C renewer.
func configure(p *C.stepca_renewer, cfg *renewerConfig, h cgo.Handle) error {
	calls := []func(**C.stepca_error) C.stepca_status{
		func(e **C.stepca_error) C.stepca_status {
			return C.stepca_renewer_set_schedule(p, cfg.schedule, C.uint64_t(cfg.seconds), e)
		},
		func(e **C.stepca_error) C.stepca_status {
			return C.stepca_renewer_set_auth(p, C.stepca_renew_auth(cfg.auth), e)
		},
	}
	if cfg.certFile != "" || cfg.keyFile != "" {
		calls = append(calls, func(e **C.stepca_error) C.stepca_status {
			var cert, key *C.char
			if cfg.certFile != "" {
				c, free := cString(cfg.certFile)
				defer free()
				cert = c
			}
			if cfg.keyFile != "" {
				k, free := cString(cfg.keyFile)
				defer free()
				key = k
			}
			return C.stepca_renewer_set_files(p, cert, key, e)
		})
	}
	if cfg.retry {
		calls = append(calls, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_renewer_set_retry(p, C.uint64_t(cfg.retryMin/time.Millisecond), C.uint64_t(cfg.retryMax/time.Millisecond), e)
		})
	}
	if cfg.rekeyEvery > 0 || cfg.newKey != nil {
		keyFn := C.int(0)
		if cfg.newKey != nil {
			keyFn = 1
		}
		calls = append(calls, func(e **C.stepca_error) C.stepca_status {
			return C.stepca_go_renewer_set_rekey(p, C.uint32_t(cfg.rekeyEvery), keyFn, C.uintptr_t(h), e)
		})
	}
	for _, call := range calls {
		if err := callC(call); err != nil {
			return err
		}
	}
	return nil
}

// Start starts renewing on a background thread, from the current credential. Settings
// that cannot work are refused naming the field (ErrInvalidArgument: "new_key" for a held
// key rekeyed without a new key function, "key_file" for a key in memory rekeyed while
// writing the chain but not the key, ...), as is a renewer already running.
func (r *Renewer) Start() error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	err := r.h.use(func(p *C.stepca_renewer) error {
		return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_renewer_start(p, e) })
	})
	if err == nil {
		r.core.pin = r
	}
	return err
}

// Stop stops renewing and waits for the renewer's thread: at once while it waits (which
// is all the time but during a request to the CA), else when the request ends (bounded
// by the client's timeout), so that a certificate the CA issued is not lost. Events
// already reported are still delivered. Stopped or closed: a no-op.
func (r *Renewer) Stop() {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	_ = r.h.use(func(p *C.stepca_renewer) error {
		C.stepca_renewer_stop(p)
		r.core.settle()
		return nil
	})
	r.core.pin = nil
}

// Run starts the renewer, renews until ctx is done, stops it (within a second of ctx's
// end while it waits; see Stop) and returns ctx.Err(). It returns Start's error at once if
// it cannot start, and ErrClosed if the renewer is closed meanwhile.
func (r *Renewer) Run(ctx context.Context) error {
	if err := r.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-r.core.closedCh:
		return ErrClosed
	}
	r.Stop()
	return ctx.Err()
}

// RenewNow renews now rather than at the scheduled time (a retry's wait is cut short too).
// A no-op while stopped.
func (r *Renewer) RenewNow() error {
	return r.h.use(func(p *C.stepca_renewer) error {
		return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_renewer_renew_now(p, e) })
	})
}

// Credential returns the current credential (the newest renewed one, even before its files
// are written) as a copy that belongs to the caller (Close it when done).
func (r *Renewer) Credential() (*Credential, error) {
	var out *Credential
	err := r.h.use(func(p *C.stepca_renewer) error {
		var cp *C.stepca_credential
		if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_renewer_credential(p, &cp, e) }); err != nil {
			return err
		}
		var err error
		out, err = r.core.adopt(cp)
		return err
	})
	return out, err
}

// Replace makes cred the renewer's credential (its files were changed elsewhere) and
// schedules from it; GetCertificate serves it from then on. cred is shared, not consumed.
// Refused with ErrIO while a renewed credential is not yet written (it would be lost).
func (r *Renewer) Replace(cred *Credential) error {
	if cred == nil {
		return invalid("credential", "must not be nil")
	}
	return r.h.use(func(p *C.stepca_renewer) error {
		return cred.h.use(func(crp *C.stepca_credential) error {
			entry, err := entryFor(cred)
			if err != nil {
				return err
			}
			if entry != nil {
				r.core.addKey(entry)
			}
			r.core.tlsMu.Lock()
			defer r.core.tlsMu.Unlock()
			if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_renewer_replace(p, crp, e) }); err != nil {
				r.core.removeKey(entry)
				return err
			}
			r.core.rebuildLocked()
			return nil
		})
	})
}

// GetCertificate returns the current certificate chain with a crypto.Signer for its key,
// for tls.Config.GetCertificate: a server started once serves each renewal from then on.
// The certificate is built when a renewal is reported (or Replace is called), not on each
// handshake. After Close: ErrClosed.
func (r *Renewer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.core.certificate()
}

// GetClientCertificate returns the current certificate as GetCertificate does, for
// tls.Config.GetClientCertificate: a client presents each renewal from then on.
func (r *Renewer) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.core.certificate()
}

// Close stops the renewer (as Stop) and frees it; events not yet delivered are dropped.
// Credentials it gave out stay usable. Safe to call more than once and from any goroutine,
// an event function included; the renewer's methods give ErrClosed afterwards.
func (r *Renewer) Close() error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	r.h.close(func(p *C.stepca_renewer) {
		// Stops and waits for the thread: no callback runs after this.
		C.stepca_renewer_free(p)
		r.cgoHandle.Delete()
		r.core.shutdown()
	})
	r.core.pin = nil
	runtime.SetFinalizer(r, nil)
	return nil
}

// ---- on the renewer's thread (and after it stopped) ----

// event handles one C event: keeps the held keys and the certificate in step, and queues
// the Go event for the listeners.
func (rc *renewerCore) event(ev *C.stepca_renewer_event) {
	e := RenewerEvent{Kind: RenewerEventKind(ev.kind), Attempt: int(ev.attempt), Rekeyed: bool(ev.rekeyed)}
	if ev.at != 0 {
		e.At = time.Unix(int64(ev.at), 0)
	}
	if ev.error != nil {
		err := borrowedError(ev.error)
		rc.keysMu.Lock()
		if e.Kind == RenewerFailed {
			if err.Code == CodeSigner && strings.HasPrefix(err.Message, "new_key:") && rc.keyErr != nil {
				// libstepca only hears a return code: the function's own error goes inside.
				err.cause = rc.keyErr
				err.Message += " (" + rc.keyErr.Error() + ")"
			}
			rc.keyErr = nil
		}
		rc.keysMu.Unlock()
		e.Err = err
	}
	switch e.Kind {
	case RenewerFailed:
		// A failed rekey attempt has dropped its new key.
		rc.dropPending()
	case RenewerRenewed, RenewerWriteFailed:
		if ev.credential != nil {
			rc.renewed(ev.credential, &e)
		}
	}
	if rc.queue != nil {
		rc.queue.push(e)
	}
}

// renewed handles a new credential (borrowed): its key becomes the current one, the
// certificate is rebuilt, and listeners get a copy.
func (rc *renewerCore) renewed(b *C.stepca_credential, e *RenewerEvent) {
	var cc *C.stepca_chain
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_credential_chain(b, &cc, e) }); err != nil {
		rc.rebuild()
		return
	}
	defer C.stepca_chain_free(cc)
	chain, err := chainFromC(cc)
	if err == nil {
		rc.promote(chain.Leaf().PublicKey)
	}
	rc.rebuild()
	if err == nil && rc.queue != nil {
		e.Credential, _ = rc.copyOf(b, chain)
	}
}

// copyOf makes a credential of Go's own from a borrowed one (stepca_credential_clone: the
// same chain and key), with the Go state of its key (chain in Go).
func (rc *renewerCore) copyOf(b *C.stepca_credential, chain *Chain) (*Credential, error) {
	state, cb, held := rc.share(chain.Leaf().PublicKey)
	var out *C.stepca_credential
	if err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_credential_clone(b, &out, e) }); err != nil {
		held.release()
		cb.release()
		return nil, err
	}
	cr := newCredential(out, chain, state, cb)
	cr.held = held
	return cr, nil
}

// adopt wraps a credential libstepca handed over (owned) with what Go needs for its key.
func (rc *renewerCore) adopt(p *C.stepca_credential) (*Credential, error) {
	chain, err := callChain(func(out **C.stepca_chain, e **C.stepca_error) C.stepca_status {
		return C.stepca_credential_chain(p, out, e)
	})
	if err != nil {
		C.stepca_credential_free(p)
		return nil, err
	}
	state, cb, held := rc.share(chain.Leaf().PublicKey)
	cr := newCredential(p, chain, state, cb)
	cr.held = held
	return cr, nil
}

// share takes a share of the held key whose public key is pub: a HeldKey, or a Go
// signer's state and handle. All nil for a key in memory.
func (rc *renewerCore) share(pub crypto.PublicKey) (*signerState, *sharedHandle, *HeldKey) {
	rc.keysMu.Lock()
	defer rc.keysMu.Unlock()
	for _, e := range rc.keys {
		if !samePublicKey(e.pub, pub) {
			continue
		}
		if e.held != nil && e.held.retain() {
			return nil, nil, e.held
		}
		if e.cb != nil && e.cb.tryRetain() {
			return e.state, e.cb, nil
		}
	}
	return nil, nil, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// promote makes a new key, reported in use with pub, the current one: the keys newKey
// made before it are no longer the renewer's to use (credentials it gave out keep their
// own shares).
func (rc *renewerCore) promote(pub crypto.PublicKey) {
	rc.keysMu.Lock()
	defer rc.keysMu.Unlock()
	var found *keyEntry
	for _, e := range rc.keys {
		if e.pending && samePublicKey(e.pub, pub) {
			found = e
			break
		}
	}
	if found == nil {
		return
	}
	found.pending = false
	kept := rc.keys[:0]
	for _, e := range rc.keys {
		if e.generated && e != found {
			e.release()
			continue
		}
		kept = append(kept, e)
	}
	clear(rc.keys[len(kept):])
	rc.keys = kept
}

// dropPending releases the keys newKey made that were never reported in use: their rekey
// attempts failed, and libstepca dropped them.
func (rc *renewerCore) dropPending() {
	rc.keysMu.Lock()
	defer rc.keysMu.Unlock()
	kept := rc.keys[:0]
	for _, e := range rc.keys {
		if e.pending {
			e.release()
			continue
		}
		kept = append(kept, e)
	}
	clear(rc.keys[len(kept):])
	rc.keys = kept
}

func (rc *renewerCore) addKey(e *keyEntry) {
	rc.keysMu.Lock()
	rc.keys = append(rc.keys, e)
	rc.keysMu.Unlock()
}

func (rc *renewerCore) removeKey(e *keyEntry) {
	if e == nil {
		return
	}
	rc.keysMu.Lock()
	for i, k := range rc.keys {
		if k == e {
			rc.keys = append(rc.keys[:i], rc.keys[i+1:]...)
			break
		}
	}
	rc.keysMu.Unlock()
	e.release()
}

func (rc *renewerCore) releaseKeys() {
	rc.keysMu.Lock()
	keys := rc.keys
	rc.keys = nil
	rc.keysMu.Unlock()
	for _, e := range keys {
		e.release()
	}
}

func (rc *renewerCore) setKeyError(err error) {
	rc.keysMu.Lock()
	rc.keyErr = err
	rc.keysMu.Unlock()
}

// newKeyFor runs newKey for a rekey and hands libstepca the new key, which signs through
// the sign callback; 0, or nonzero with the error kept for the failure event.
func (rc *renewerCore) newKeyFor(out **C.stepca_external_key) C.int {
	signer, err := rc.newKey()
	if err == nil && signer == nil {
		err = invalid("new_key", "the new key function returned no key")
	}
	if err != nil {
		rc.setKeyError(err)
		return 1
	}
	ek, state, h, err := newCallbackKey(signer)
	if err != nil {
		closeKey(signer)
		rc.setKeyError(err)
		return 1
	}
	sh := newSharedHandle(h)
	sh.free = func() { closeKey(signer) }
	rc.addKey(&keyEntry{pub: signer.Public(), state: state, cb: sh, generated: true, pending: true})
	*out = ek
	return 0
}

// closeKey closes a key the renewer owns, if it can be closed.
func closeKey(k crypto.Signer) {
	if c, ok := k.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// settle brings the keys in step after the thread stopped: events are not reported once
// a stop is asked, so a rekey may have succeeded unreported.
func (rc *renewerCore) settle() {
	var cp *C.stepca_credential
	if callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_renewer_credential(rc.ptr, &cp, e) }) == nil {
		chain, err := callChain(func(out **C.stepca_chain, e **C.stepca_error) C.stepca_status {
			return C.stepca_credential_chain(cp, out, e)
		})
		C.stepca_credential_free(cp)
		if err == nil {
			rc.promote(chain.Leaf().PublicKey)
		}
	}
	rc.dropPending()
	rc.rebuild()
}

// rebuild makes the certificate GetCertificate serves from the renewer's current
// credential.
func (rc *renewerCore) rebuild() {
	rc.tlsMu.Lock()
	defer rc.tlsMu.Unlock()
	rc.rebuildLocked()
}

func (rc *renewerCore) rebuildLocked() {
	if rc.closed.Load() {
		return
	}
	res := &tlsResult{}
	var cp *C.stepca_credential
	res.err = callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_renewer_credential(rc.ptr, &cp, e) })
	if res.err == nil {
		var cr *Credential
		if cr, res.err = rc.adopt(cp); res.err == nil {
			res.cert, res.err = cr.TLSCertificate()
			if cr.held == nil && cr.signer == nil {
				cr.Close() // a key in memory is parsed into Go's own; nothing to keep
			} else {
				res.cred = cr // its key signs the handshakes
			}
		}
	}
	rc.cert.Store(res)
}

func (rc *renewerCore) certificate() (*tls.Certificate, error) {
	if rc.closed.Load() {
		return nil, ErrClosed
	}
	res := rc.cert.Load()
	if res == nil {
		return nil, ErrClosed
	}
	return res.cert, res.err
}

// shutdown releases everything once the C renewer is freed.
func (rc *renewerCore) shutdown() {
	rc.closed.Store(true)
	close(rc.closedCh)
	if res := rc.cert.Swap(nil); res != nil && res.cred != nil {
		res.cred.Close()
	}
	rc.releaseKeys()
	if rc.queue != nil {
		rc.queue.close()
	}
}

// ---- event delivery ----

// maxQueuedEvents bounds the events waiting for a slow listener.
const maxQueuedEvents = 1024

// eventQueue hands events from the renewer's thread, which never waits for it, to the
// listeners, in order, on a goroutine of its own.
type eventQueue struct {
	fn func(RenewerEvent)
	ch chan<- RenewerEvent

	mu     sync.Mutex
	events []RenewerEvent
	closed bool
	wake   chan struct{} // one pending signal
	done   chan struct{} // closed by close
}

func newEventQueue(fn func(RenewerEvent), ch chan<- RenewerEvent) *eventQueue {
	return &eventQueue{fn: fn, ch: ch, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (q *eventQueue) push(e RenewerEvent) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		e.Credential.Close()
		return
	}
	if len(q.events) >= maxQueuedEvents {
		q.events[0].Credential.Close()
		q.events[0] = RenewerEvent{}
		q.events = q.events[1:]
	}
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) pop() (RenewerEvent, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.events) == 0 {
		return RenewerEvent{}, false
	}
	e := q.events[0]
	q.events[0] = RenewerEvent{}
	q.events = q.events[1:]
	return e, true
}

func (q *eventQueue) run() {
	for {
		select {
		case <-q.wake:
		case <-q.done:
			return
		}
		for {
			e, ok := q.pop()
			if !ok {
				break
			}
			if q.fn != nil {
				q.fn(e)
			}
			if q.ch != nil {
				select {
				case q.ch <- e:
				case <-q.done:
					return
				}
			}
		}
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	events := q.events
	q.events, q.closed = nil, true
	q.mu.Unlock()
	for _, e := range events {
		e.Credential.Close()
	}
	close(q.done)
}
