package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/ess"
)

func apiErr(code string, class ess.Class) error {
	return fmt.Errorf("call: %w", &ess.APIError{Action: ess.ActionSyncProxyOrganization, Code: code, Message: "m", RequestID: "r", Class: class})
}

func TestRetryPolicyDecide(t *testing.T) {
	p := RetryPolicy{MaxTries: 5, BaseDelay: time.Second, MaxDelay: 8 * time.Second, RateLimitedDelay: 2 * time.Second,
		Rand: func() float64 { return 0.5 }}
	cases := []struct {
		name    string
		err     error
		tries   int
		outcome Outcome
		delay   time.Duration // 0: not checked
	}{
		{"transient first try", apiErr("InternalError", ess.ClassTransient), 1, Retry, 750 * time.Millisecond},
		{"transient third try", apiErr("InternalError", ess.ClassTransient), 3, Retry, 3 * time.Second},
		{"transient capped delay", apiErr("InternalError", ess.ClassTransient), 4, Retry, 6 * time.Second},
		{"transient out of tries", apiErr("InternalError", ess.ClassTransient), 5, Fail, 0},
		{"FailedOperation low cap", apiErr("FailedOperation", ess.ClassTransient), 3, Fail, 0},
		{"FailedOperation before its cap", apiErr("FailedOperation", ess.ClassTransient), 2, Retry, 0},
		{"network error", apiErr(ess.CodeNetworkError, ess.ClassTransient), 1, Retry, 0},
		{"plain error is transient", errors.New("boom"), 1, Retry, 0},
		{"rate limited uses no try", apiErr("RequestLimitExceeded", ess.ClassRateLimited), 99, Snooze, 1500 * time.Millisecond},
		{"permanent fails at once", apiErr("InvalidParameter.CardNumber", ess.ClassPermanent), 1, Fail, 0},
		{"systemic pauses", apiErr("AuthFailure.SignatureFailure", ess.ClassSystemic), 1, Pause, 0},
		{"systemic pauses on the last try too", apiErr("AuthFailure.SecretIdNotFound", ess.ClassSystemic), 5, Pause, 0},
		{"shutdown hands back", fmt.Errorf("x: %w", context.Canceled), 1, Snooze, time.Second},
		{"limiter wait", &WaitError{Delay: 7 * time.Second}, 1, Snooze, 7 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Decide(c.err, c.tries)
			if d.Outcome != c.outcome {
				t.Fatalf("outcome %v, want %v", d.Outcome, c.outcome)
			}
			if c.delay != 0 && d.Delay != c.delay {
				t.Errorf("delay %v, want %v", d.Delay, c.delay)
			}
		})
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Minute}
	seen := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		d := p.Backoff(3) // 4s before jitter
		if d < 2*time.Second || d > 4*time.Second {
			t.Fatalf("Backoff(3) = %v, want within [2s, 4s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct delays in 200 draws: no jitter", len(seen))
	}
	if d := p.Backoff(30); d > time.Minute || d < 30*time.Second {
		t.Errorf("Backoff(30) = %v, want capped near 1m", d)
	}
}

func TestIsFailureAndRetryDelay(t *testing.T) {
	base := errors.New("x")
	if IsFailure(snooze(base, time.Second)) {
		t.Error("a snoozed task counted as a failure")
	}
	if !IsFailure(retryAfter(base, time.Second)) || !IsFailure(base) {
		t.Error("a failed task not counted as a failure")
	}
	f := RetryDelayFunc(RetryPolicy{BaseDelay: time.Second})
	if d := f(0, fmt.Errorf("w: %w", snooze(base, 3*time.Second)), nil); d != 3*time.Second {
		t.Errorf("delay of a snooze = %v, want 3s", d)
	}
	if d := f(0, base, nil); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("default delay = %v, want the policy's first back-off", d)
	}
}
