package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// redisDB is this package's Redis database (see the house rules).
const redisDB = 2

func newTestRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return testenv.Redis(t, redisDB)
}

// TestLimiterSpacesCallsAcrossProcesses checks that two limiters with their
// own connections (two worker processes) share one budget: 2×n calls
// cannot complete faster than 2n-1 intervals, and every call gets through.
func TestLimiterSpacesCallsAcrossProcesses(t *testing.T) {
	_, url := newTestRedis(t)
	prefix := "test:" + t.Name()
	var lims []*Limiter
	for i := 0; i < 2; i++ {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		lims = append(lims, NewLimiter(c, LimiterConfig{Rate: 50, MaxWait: 10 * time.Second, Prefix: prefix}))
	}
	const perProcess = 20
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*perProcess)
	for _, l := range lims {
		for i := 0; i < perProcess; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- l.Wait(ctx, "app1", "SyncProxyOrganization")
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	min := time.Duration(2*perProcess-1) * lims[0].Interval()
	if elapsed < min {
		t.Fatalf("%d calls took %v, less than the %v their spacing requires", 2*perProcess, elapsed, min)
	}
}

// TestLimiterKeysAreIndependent checks that actions and scopes have budgets
// of their own: a queue on one does not delay another.
func TestLimiterKeysAreIndependent(t *testing.T) {
	rdb, _ := newTestRedis(t)
	l := NewLimiter(rdb, LimiterConfig{Rate: 1, MaxWait: 100 * time.Millisecond, Prefix: "test:" + t.Name()})
	ctx := context.Background()
	if err := l.Wait(ctx, "app1", "A"); err != nil {
		t.Fatal(err)
	}
	// The next A call for app1 is a second away: more than MaxWait.
	var we *WaitError
	if err := l.Wait(ctx, "app1", "A"); !errors.As(err, &we) {
		t.Fatalf("second call within the interval: got %v, want a *WaitError", err)
	}
	if we.Delay < 500*time.Millisecond || we.Delay > time.Second+50*time.Millisecond {
		t.Errorf("WaitError.Delay = %v, want about the 1s interval", we.Delay)
	}
	for _, k := range [][2]string{{"app1", "B"}, {"app2", "A"}} {
		if err := l.Wait(ctx, k[0], k[1]); err != nil {
			t.Errorf("Wait(%s, %s) = %v, want a free slot", k[0], k[1], err)
		}
	}
}

// TestLimiterLongWaitDoesNotReserve checks that a caller turned away with a
// WaitError takes no slot: the turned-away calls do not push the queue out.
func TestLimiterLongWaitDoesNotReserve(t *testing.T) {
	rdb, _ := newTestRedis(t)
	l := NewLimiter(rdb, LimiterConfig{Rate: 2, Margin: -1, MaxWait: 600 * time.Millisecond, Prefix: "test:" + t.Name()})
	ctx := context.Background()
	if err := l.Wait(ctx, "s", "A"); err != nil { // slot 0
		t.Fatal(err)
	}
	if err := l.Wait(ctx, "s", "A"); err != nil { // slot 1, 500ms later
		t.Fatal(err)
	}
	// Now the next slot is ~500ms away; make the limit reject by lowering
	// MaxWait through a second limiter on the same keys.
	strict := NewLimiter(rdb, LimiterConfig{Rate: 2, Margin: -1, MaxWait: 100 * time.Millisecond, Prefix: "test:" + t.Name()})
	var first, second *WaitError
	if err := strict.Wait(ctx, "s", "A"); !errors.As(err, &first) {
		t.Fatalf("got %v, want *WaitError", err)
	}
	if err := strict.Wait(ctx, "s", "A"); !errors.As(err, &second) {
		t.Fatalf("got %v, want *WaitError", err)
	}
	if second.Delay > first.Delay {
		t.Errorf("a refused call reserved a slot: delay grew from %v to %v", first.Delay, second.Delay)
	}
}

// TestLimiterBackoffIsShared checks that a back-off set by one process holds
// every process off that action, and only that action.
func TestLimiterBackoffIsShared(t *testing.T) {
	rdb, url := newTestRedis(t)
	prefix := "test:" + t.Name()
	a := NewLimiter(rdb, LimiterConfig{Rate: 100, MaxWait: 200 * time.Millisecond, Prefix: prefix})
	opt, _ := redis.ParseURL(url)
	other := redis.NewClient(opt)
	defer other.Close()
	b := NewLimiter(other, LimiterConfig{Rate: 100, MaxWait: 200 * time.Millisecond, Prefix: prefix})
	ctx := context.Background()
	if err := a.Backoff(ctx, "app1", "Sync", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// A shorter back-off does not cut the longer one short.
	if err := a.Backoff(ctx, "app1", "Sync", time.Second); err != nil {
		t.Fatal(err)
	}
	var we *WaitError
	if err := b.Wait(ctx, "app1", "Sync"); !errors.As(err, &we) {
		t.Fatalf("other process during back-off: got %v, want *WaitError", err)
	}
	if we.Delay < 4*time.Second {
		t.Errorf("back-off delay %v, want about 5s", we.Delay)
	}
	if err := b.Wait(ctx, "app1", "Describe"); err != nil {
		t.Errorf("another action is held off too: %v", err)
	}
}

// TestLimiterCanceled checks that a caller whose context ends stops waiting.
func TestLimiterCanceled(t *testing.T) {
	rdb, _ := newTestRedis(t)
	l := NewLimiter(rdb, LimiterConfig{Rate: 0.5, MaxWait: time.Minute, Prefix: "test:" + t.Name()})
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Wait(ctx, "s", "A"); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := l.Wait(ctx, "s", "A"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
