package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
)

// The retry policy itself is onboard.RetryPolicy, a pure function of the
// failure, the work's tries and the time. This file turns a failed call
// into an onboard.Failure, and tells asynq what to do when a handler could
// not even record its outcome (Postgres unreachable).

// classify returns what kind of failure err is, for a call made with cctx
// inside a handler whose own context is ctx.
func classify(ctx, cctx context.Context, err error) onboard.Failure {
	if we := limiterRefusal(cctx); we != nil {
		return onboard.Failure{Class: onboard.ClassRateLimited, Wait: we.Delay}
	}
	var we *WaitError
	if errors.As(err, &we) {
		return onboard.Failure{Class: onboard.ClassRateLimited, Wait: we.Delay}
	}
	if limiterBroken(cctx) != nil {
		return onboard.Failure{Class: onboard.ClassInfra}
	}
	class := ess.ClassOf(err)
	if class == ess.ClassCanceled && ctx.Err() == nil {
		// The request's own timeout, not a shutdown: a slow platform.
		class = ess.ClassTransient
	}
	f := onboard.Failure{Class: onboard.ErrorClass(class)}
	var ae *ess.APIError
	if errors.As(err, &ae) {
		f.MaxTries = ae.MaxTries()
	}
	return f
}

func stepError(err error) onboard.StepError {
	var ae *ess.APIError
	if errors.As(err, &ae) {
		return onboard.StepError{Code: ae.Code, Message: ae.Message, RequestID: ae.RequestID}
	}
	return onboard.StepError{Code: "onboard.Error", Message: err.Error()}
}

// retryError tells the asynq server when to run a task again and whether the
// failed run counts as a try (see IsFailure and RetryDelayFunc).
type retryError struct {
	delay   time.Duration
	failure bool
	err     error
}

func (e *retryError) Error() string {
	kind := "retry"
	if !e.failure {
		kind = "not a failure, run again"
	}
	return fmt.Sprintf("%v (%s in %v)", e.err, kind, e.delay.Round(time.Millisecond))
}

func (e *retryError) Unwrap() error { return e.err }

// snooze makes a task run again after d without counting a failure.
func snooze(err error, d time.Duration) error { return &retryError{delay: d, failure: false, err: err} }

// IsFailure is the asynq.Config.IsFailure of onboard's servers: a task put
// back because onboard's own servers could not be reached has not failed.
func IsFailure(err error) bool {
	var re *retryError
	if errors.As(err, &re) {
		return re.failure
	}
	return true
}

// RetryDelayFunc returns the asynq.Config.RetryDelayFunc of onboard's
// servers: the delay the handler asked for, else the policy's back-off.
func RetryDelayFunc(p onboard.RetryPolicy) asynq.RetryDelayFunc {
	return func(n int, err error, _ *asynq.Task) time.Duration {
		var re *retryError
		if errors.As(err, &re) {
			return re.delay
		}
		return p.Backoff(n + 1)
	}
}
