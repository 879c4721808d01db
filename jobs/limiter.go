package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// LimiterConfig configures a Limiter. Zero values take the documented
// defaults.
type LimiterConfig struct {
	// Rate is the number of calls per second the platform allows per action
	// (and per application or credential). Default 20.
	Rate float64
	// Margin stretches the spacing between calls so that network jitter
	// between the limiter and the platform cannot squeeze Rate+1 calls into
	// one second of the platform's sliding window. Calls are spaced
	// (1+Margin)/Rate apart. Default 0.02; negative means none.
	Margin float64
	// MaxWait is the longest a caller waits for its turn inside a handler.
	// Longer waits are returned as a *WaitError so the task can be put back
	// without counting as a failure. Default 3s.
	MaxWait time.Duration
	// Prefix namespaces the Redis keys. Default "onboard:rl"; processes
	// started with a queue prefix use LimiterPrefix(queuePrefix).
	Prefix string
	// Late is how far past its slot a caller may wake up and still call.
	// A caller woken later (a stalled process, a slow Redis reply) gives
	// the slot up and queues again, so a late call can never crowd the one
	// Rate slots after it into the same second. Default 8ms; it must stay
	// well under Margin × 1s.
	Late time.Duration
}

// Limiter paces calls to the platform through Redis, so every worker process
// on every machine draws from one budget per (scope, action). It reserves
// slots one interval apart on Redis's own clock (a GCRA with a burst of one)
// and sleeps until the reserved slot: callers queue up in order instead of
// polling, so the limit is used fully without ever being exceeded.
//
// When the platform answers RequestLimitExceeded anyway, Backoff sets a
// shared back-off key that makes every process hold off together.
type Limiter struct {
	rdb      redis.UniversalClient
	interval time.Duration
	maxWait  time.Duration
	late     time.Duration
	prefix   string

	waits, lateSlots, refusals atomic.Int64
	waited                     atomic.Int64 // nanoseconds
}

// LimiterStats counts what a Limiter did in this process.
type LimiterStats struct {
	Waits     int64         // calls let through
	Waited    time.Duration // total time callers waited for their turn
	LateSlots int64         // slots given up because the caller woke up late
	Refusals  int64         // turns further away than MaxWait (WaitError)
}

// Stats returns the limiter's counters.
func (l *Limiter) Stats() LimiterStats {
	return LimiterStats{Waits: l.waits.Load(), Waited: time.Duration(l.waited.Load()),
		LateSlots: l.lateSlots.Load(), Refusals: l.refusals.Load()}
}

// WaitError reports that the next free slot is further away than the
// limiter's MaxWait. It is not a failure: the task should be retried after
// Delay without using up a try.
type WaitError struct {
	Scope, Action string
	Delay         time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("rate limiter: next %s call for %s in %v", e.Action, e.Scope, e.Delay.Round(time.Millisecond))
}

const defaultLimiterPrefix = "onboard:rl"

// LimiterPrefix is the limiter key prefix of the processes started with
// queuePrefix: every process of one set of workers, and every command
// calling the platform on their behalf, draws from the same buckets.
func LimiterPrefix(queuePrefix string) string { return queuePrefix + defaultLimiterPrefix }

// NewLimiter returns a Limiter over rdb.
func NewLimiter(rdb redis.UniversalClient, cfg LimiterConfig) *Limiter {
	if cfg.Rate <= 0 {
		cfg.Rate = 20
	}
	if cfg.Margin == 0 {
		cfg.Margin = 0.02
	}
	if cfg.Margin < 0 {
		cfg.Margin = 0
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 3 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultLimiterPrefix
	}
	if cfg.Late <= 0 {
		cfg.Late = 8 * time.Millisecond
	}
	interval := time.Duration(float64(time.Second) * (1 + cfg.Margin) / cfg.Rate)
	return &Limiter{rdb: rdb, interval: interval, maxWait: cfg.MaxWait, late: cfg.Late, prefix: cfg.Prefix}
}

// Interval is the spacing between two calls of one (scope, action).
func (l *Limiter) Interval() time.Duration { return l.interval }

// reserveScript reserves the next slot of one (scope, action) on Redis time.
// KEYS[1]: theoretical arrival time (µs), KEYS[2]: shared back-off key.
// ARGV[1]: interval (µs), ARGV[2]: longest acceptable wait (µs).
// Returns {reserved (1/0), wait in µs}.
var reserveScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = now
local b = redis.call("PTTL", KEYS[2])
if b > 0 then start = now + b * 1000 end
local tat = tonumber(redis.call("GET", KEYS[1]))
if tat and tat > start then start = tat end
local wait = start - now
if wait > tonumber(ARGV[2]) then return {0, string.format("%.0f", wait)} end
local nxt = start + tonumber(ARGV[1])
redis.call("SET", KEYS[1], string.format("%.0f", nxt), "PX", math.ceil((nxt - now) / 1000) + 1000)
return {1, string.format("%.0f", wait)}
`)

func (l *Limiter) keys(scope, action string) []string {
	// The hash tag keeps both keys in one Redis Cluster slot.
	tag := "{" + scope + ":" + action + "}"
	return []string{l.prefix + ":" + tag + ":tat", l.prefix + ":" + tag + ":backoff"}
}

// maxLate is how many times in a row a caller may wake up late before Wait
// gives up with a *WaitError (the task is put back; not a failure).
const maxLate = 10

// Wait blocks until the caller may make one call of action in scope. It
// returns a *WaitError without waiting when the turn is more than MaxWait
// away, and ctx's error when ctx ends first (the reserved slot is then lost,
// which only leaves the budget under-used).
//
// The caller never calls before its slot (it sleeps the wait Redis gave,
// counted from when the reply arrived) and never more than Late after it
// (measured from when the request left, so a slow reply counts as late).
func (l *Limiter) Wait(ctx context.Context, scope, action string) error {
	for range maxLate {
		t0 := time.Now()
		wait, err := l.reserve(ctx, scope, action)
		if err != nil {
			return err
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(t0.Add(wait)) <= l.late {
			l.waits.Add(1)
			l.waited.Add(int64(time.Since(t0)))
			return nil
		}
		l.lateSlots.Add(1)
		// Woke up too late for this slot: queue again.
	}
	return &WaitError{Scope: scope, Action: action, Delay: l.interval}
}

// reserve takes the next slot and returns how long until it.
func (l *Limiter) reserve(ctx context.Context, scope, action string) (time.Duration, error) {
	res, err := reserveScript.Run(ctx, l.rdb, l.keys(scope, action),
		l.interval.Microseconds(), l.maxWait.Microseconds()).Slice()
	if err != nil {
		return 0, fmt.Errorf("rate limiter: %w", err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("rate limiter: unexpected reply %v", res)
	}
	ok, _ := res[0].(int64)
	us, err := parseMicros(res[1])
	if err != nil {
		return 0, fmt.Errorf("rate limiter: %w", err)
	}
	wait := time.Duration(us) * time.Microsecond
	if ok != 1 {
		l.refusals.Add(1)
		return 0, &WaitError{Scope: scope, Action: action, Delay: wait}
	}
	return wait, nil
}

func parseMicros(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		var n int64
		_, err := fmt.Sscan(x, &n)
		return n, err
	}
	return 0, fmt.Errorf("unexpected value %v", v)
}

// Backoff makes every process hold off action in scope for d, for example
// after the platform answered RequestLimitExceeded. A longer back-off
// already in place is kept.
func (l *Limiter) Backoff(ctx context.Context, scope, action string, d time.Duration) error {
	k := l.keys(scope, action)[1]
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	if ms <= 0 {
		return nil
	}
	err := backoffScript.Run(ctx, l.rdb, []string{k}, ms).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("rate limiter back-off: %w", err)
	}
	return nil
}

var backoffScript = redis.NewScript(`
local cur = redis.call("PTTL", KEYS[1])
if cur < tonumber(ARGV[1]) then redis.call("SET", KEYS[1], "1", "PX", ARGV[1]) end
return 1
`)

// CredentialScope returns the limiter scope for calls signed with secretID
// when the platform counts calls per credential rather than per
// application. The SecretId itself is not written to Redis.
func CredentialScope(secretID string) string {
	sum := sha256.Sum256([]byte(secretID))
	return "cred-" + hex.EncodeToString(sum[:6])
}
