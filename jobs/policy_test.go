package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
)

func apiErr(code string, class ess.Class) error {
	return fmt.Errorf("call: %w", &ess.APIError{Action: ess.ActionSyncProxyOrganization, Code: code, Message: "m", RequestID: "r", Class: class})
}

// TestClassify checks that every kind of failed call becomes the failure
// the retry policy decides on.
func TestClassify(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	refused := withScope(live, "a")
	refused.Value(scopeKey{}).(*callScope).refused = &WaitError{Delay: 7 * time.Second}
	broken := withScope(live, "a")
	broken.Value(scopeKey{}).(*callScope).broken = errors.New("dial tcp: connection refused")
	cases := []struct {
		name      string
		ctx, cctx context.Context
		err       error
		want      onboard.Failure
	}{
		{"transient", live, live, apiErr("InternalError", ess.ClassTransient), onboard.Failure{Class: onboard.ClassTransient}},
		{"FailedOperation keeps its low cap", live, live, apiErr("FailedOperation", ess.ClassTransient), onboard.Failure{Class: onboard.ClassTransient, MaxTries: 3}},
		{"plain error is transient", live, live, errors.New("boom"), onboard.Failure{Class: onboard.ClassTransient}},
		{"rate limited", live, live, apiErr("RequestLimitExceeded", ess.ClassRateLimited), onboard.Failure{Class: onboard.ClassRateLimited}},
		{"permanent", live, live, apiErr("InvalidParameter.CardNumber", ess.ClassPermanent), onboard.Failure{Class: onboard.ClassPermanent}},
		{"systemic", live, live, apiErr("AuthFailure.SignatureFailure", ess.ClassSystemic), onboard.Failure{Class: onboard.ClassSystemic}},
		{"shutdown", done, done, fmt.Errorf("x: %w", context.Canceled), onboard.Failure{Class: onboard.ClassCanceled}},
		{"a request's own timeout is a slow platform", live, live, fmt.Errorf("x: %w", context.DeadlineExceeded), onboard.Failure{Class: onboard.ClassTransient}},
		{"limiter wait", live, refused, errors.New("rate limiter"), onboard.Failure{Class: onboard.ClassRateLimited, Wait: 7 * time.Second}},
		{"limiter without Redis", live, broken, errors.New("rate limiter"), onboard.Failure{Class: onboard.ClassInfra}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.ctx, c.cctx, c.err); got != c.want {
				t.Fatalf("classify = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestIsFailureAndRetryDelay(t *testing.T) {
	base := errors.New("x")
	if IsFailure(snooze(base, time.Second)) {
		t.Error("a snoozed task counted as a failure")
	}
	if !IsFailure(base) {
		t.Error("a failed task not counted as a failure")
	}
	f := RetryDelayFunc(onboard.RetryPolicy{BaseDelay: time.Second})
	if d := f(0, fmt.Errorf("w: %w", snooze(base, 3*time.Second)), nil); d != 3*time.Second {
		t.Errorf("delay of a snooze = %v, want 3s", d)
	}
	if d := f(0, base, nil); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("default delay = %v, want the policy's first back-off", d)
	}
}
