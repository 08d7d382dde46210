package stepca_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// shifted is a time source off the system clock by d.
func shifted(d time.Duration) func() time.Time {
	return func() time.Time { return time.Now().Add(d) }
}

// jwkClient is newClient with the admin JWK provisioner minting tokens in process.
func jwkClient(t *testing.T, opts ...stepca.Option) (*stepca.Client, error) {
	t.Helper()
	prov, err := stepca.FetchJWKProvisioner(newClient(t), "admin", "", password(t))
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close() // the client keeps its own reference
	opts = append([]stepca.Option{stepca.WithRootFile(caRoot), stepca.WithJWKProvisioner(prov)}, opts...)
	c, err := stepca.NewClient(caURL, opts...)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func within(got, want, tolerance time.Duration) bool {
	d := got - want
	return d <= tolerance && d >= -tolerance
}

// A time source ahead of the CA gets its in-process tokens refused; the error names the
// offset and carries it.
func TestClockAheadIsRefusedAndMeasured(t *testing.T) {
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	for _, ahead := range []time.Duration{10 * time.Minute, 2 * time.Hour} {
		c, err := jwkClient(t, stepca.WithTimeSource(shifted(ahead)))
		if err != nil {
			t.Fatalf("%v: %v", ahead, err)
		}
		_, err = c.Sign(csrFor(t, key, "go-ahead.example.com", "go-ahead.example.com"))
		var se *stepca.Error
		if !errors.Is(err, stepca.ErrCARejected) || !errors.As(err, &se) || se.HTTPStatus != 401 {
			t.Fatalf("%v: want a 401 rejection, got %#v", ahead, err)
		}
		skew, ok := se.ClockSkew()
		if !ok || !within(skew, ahead, 3*time.Second) {
			t.Fatalf("%v: clock skew %v (measured: %v)", ahead, skew, ok)
		}
		want := fmt.Sprintf("the time source is %d s ahead of the CA's", int64(skew/time.Second))
		if !strings.Contains(se.Message, want) {
			t.Fatalf("%v: message %q lacks %q", ahead, se.Message, want)
		}
	}
}

// The same clocks in CA-time mode enroll, and the chain verifies at the right time.
func TestCATimeEnrollsWithAClockOff(t *testing.T) {
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	for _, ahead := range []time.Duration{10 * time.Minute, 2 * time.Hour} {
		c, err := jwkClient(t, stepca.WithTimeSource(shifted(ahead)), stepca.WithCATime())
		if err != nil {
			t.Fatalf("%v: %v", ahead, err)
		}
		csr := csrFor(t, key, "go-catime.example.com", "go-catime.example.com")
		chain, err := c.Sign(csr)
		if err != nil {
			t.Fatalf("%v: %v", ahead, err)
		}
		verify(t, chain, csr)
		if nb := chain.Leaf().NotBefore; nb.After(time.Now().Add(time.Minute)) {
			t.Fatalf("%v: certificate starts at %v", ahead, nb)
		}
	}
}

// A clock before the root's notBefore is named as wrong; the right time works.
func TestClockBeforeTheRootIsErrClock(t *testing.T) {
	needCA(t)
	y2k := func() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, opts := range [][]stepca.Option{
		{stepca.WithTimeSource(y2k)},
		{stepca.WithTimeSource(y2k), stepca.WithCATime()},
	} {
		_, err := stepca.NewClient(caURL, append([]stepca.Option{stepca.WithRootFile(caRoot)}, opts...)...)
		var se *stepca.Error
		if !errors.Is(err, stepca.ErrClock) || !errors.As(err, &se) {
			t.Fatalf("want ErrClock, got %#v", err)
		}
		if !strings.Contains(se.Message, "says it is 2000-01-01T00:00:00Z: the clock is wrong") {
			t.Fatalf("message %q", se.Message)
		}
		if _, ok := se.ClockSkew(); ok {
			t.Fatal("a skew without an answer from the CA")
		}
	}

	// The right time from a time source: a shared client enrolls from several goroutines,
	// asking the source (concurrently) for the time.
	var asked atomic.Int64
	c, err := jwkClient(t, stepca.WithTimeSource(func() time.Time { asked.Add(1); return time.Now() }))
	if err != nil {
		t.Fatal(err)
	}
	if asked.Load() == 0 {
		t.Fatal("the time source was not asked while building the client")
	}
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cn := fmt.Sprintf("go-clock-%d.example.com", i)
			csr := csrFor(t, key, cn, cn)
			chain, err := c.Sign(csr)
			if err == nil {
				err = verifyChain(chain, csr)
			}
			if err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A panicking time source does not crash the process: that reading is the system clock's.
func TestPanickingTimeSourceFallsBackToTheSystemClock(t *testing.T) {
	var asked atomic.Int64
	c, err := jwkClient(t, stepca.WithTimeSource(func() time.Time { asked.Add(1); panic("no RTC") }))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	csr := csrFor(t, key, "go-panic-clock.example.com", "go-panic-clock.example.com")
	chain, err := c.Sign(csr)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, chain, csr)
	if asked.Load() == 0 {
		t.Fatal("the time source was never asked")
	}
}

// A token provider is told the client's time: the time source's, or the CA's in CA-time
// mode.
func TestProviderIsToldTheClientsTime(t *testing.T) {
	errLooking := errors.New("only looking")
	key, _ := stepca.GenerateKey(stepca.ECP256)
	defer key.Close()
	csr := csrFor(t, key, "go-now.example.com", "go-now.example.com")
	for _, tc := range []struct {
		name string
		opts []stepca.Option
		want time.Duration // from the system clock
	}{
		{"time source 3 h ahead", []stepca.Option{stepca.WithTimeSource(shifted(3 * time.Hour))}, 3 * time.Hour},
		{"time source 2 h ahead, CA time", []stepca.Option{stepca.WithTimeSource(shifted(2 * time.Hour)), stepca.WithCATime()}, 0},
		{"system clock", nil, 0},
	} {
		var seen stepca.Claims
		var calls int
		c := newClient(t, append(tc.opts, stepca.WithTokenProvider(func(cl stepca.Claims) (string, error) {
			seen = cl
			calls++
			return "", errLooking
		}))...)
		if _, err := c.Sign(csr); !errors.Is(err, errLooking) || !errors.Is(err, stepca.ErrTokenProvider) {
			t.Fatalf("%s: got %v", tc.name, err)
		}
		if calls != 1 {
			t.Fatalf("%s: provider asked %d times", tc.name, calls)
		}
		if want := time.Now().Add(tc.want); !within(seen.Now.Sub(want), 0, 5*time.Second) {
			t.Fatalf("%s: Claims.Now %v, want about %v", tc.name, seen.Now, want)
		}
	}
}

// The time source stays reachable while the client lives and is released by Close, and
// when NewClient fails.
func TestTimeSourceIsReleasedOnClose(t *testing.T) {
	needCA(t)
	type marker struct{ _ [64]byte } // big enough to get its own allocation
	watch := func(at time.Time) (func() time.Time, *atomic.Bool) {
		var released atomic.Bool
		m := &marker{}
		runtime.SetFinalizer(m, func(*marker) { released.Store(true) })
		return func() time.Time { runtime.KeepAlive(m); return at }, &released
	}
	collected := func(released *atomic.Bool) bool {
		for i := 0; i < 20 && !released.Load(); i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		return released.Load()
	}

	src, released := watch(time.Now())
	c, err := stepca.NewClient(caURL, stepca.WithRootFile(caRoot), stepca.WithTimeSource(src))
	if err != nil {
		t.Fatal(err)
	}
	src = nil
	if collected(released) {
		t.Fatal("the time source was released while its client lives")
	}
	if err := c.Health(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !collected(released) {
		t.Fatal("Close did not release the time source")
	}

	src, released = watch(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := stepca.NewClient(caURL, stepca.WithRootFile(caRoot), stepca.WithTimeSource(src)); !errors.Is(err, stepca.ErrClock) {
		t.Fatalf("want ErrClock, got %v", err)
	}
	src = nil
	if !collected(released) {
		t.Fatal("a failed NewClient did not release the time source")
	}
}
