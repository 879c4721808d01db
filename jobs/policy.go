package jobs

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ess-onboard/onboard/ess"
	"github.com/hibiken/asynq"
)

// RetryPolicy decides what happens after a failed call, by the error's
// class (ess.ClassOf):
//
//   - transient: retry with exponential back-off and jitter, up to MaxTries
//     tries (or the error's own lower cap, ess.APIError.MaxTries), then fail
//     the row;
//   - rate_limited: retry soon; not a failure, uses no try;
//   - permanent: fail the row at once;
//   - systemic: pause the application; the row is left as it is;
//   - canceled: hand the task back (shutdown); not a failure.
//
// Zero fields take the documented defaults.
type RetryPolicy struct {
	MaxTries         int           // tries of a transient error, counting the first; default 6
	BaseDelay        time.Duration // delay after the first failure; default 5s
	MaxDelay         time.Duration // cap of the back-off; default 10m
	RateLimitedDelay time.Duration // retry delay after RequestLimitExceeded; default 1s
	// Rand returns a number in [0, 1) for the jitter; nil means math/rand.
	Rand func() float64
}

// Outcome is what to do with a task after an error.
type Outcome int

// Outcomes of RetryPolicy.Decide.
const (
	// Retry: try again after Delay; counts as a failed try.
	Retry Outcome = iota
	// Snooze: try again after Delay; not a failure, uses no try.
	Snooze
	// Fail: record the error and fail the row; no retry.
	Fail
	// Pause: pause the application; the row keeps its state.
	Pause
)

func (o Outcome) String() string {
	switch o {
	case Retry:
		return "retry"
	case Snooze:
		return "snooze"
	case Fail:
		return "fail"
	case Pause:
		return "pause"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Decision is the policy's answer for one error.
type Decision struct {
	Outcome Outcome
	Delay   time.Duration // for Retry and Snooze
	Class   ess.Class
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxTries <= 0 {
		p.MaxTries = 6
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 5 * time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Minute
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.RateLimitedDelay <= 0 {
		p.RateLimitedDelay = time.Second
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Decide returns what to do after err on the tries-th try (1 for the first).
func (p RetryPolicy) Decide(err error, tries int) Decision {
	p = p.withDefaults()
	var we *WaitError
	if errors.As(err, &we) {
		return Decision{Outcome: Snooze, Delay: we.Delay, Class: ess.ClassRateLimited}
	}
	class := ess.ClassOf(err)
	switch class {
	case ess.ClassRateLimited:
		return Decision{Outcome: Snooze, Delay: p.jitter(p.RateLimitedDelay), Class: class}
	case ess.ClassCanceled:
		return Decision{Outcome: Snooze, Delay: time.Second, Class: class}
	case ess.ClassPermanent:
		return Decision{Outcome: Fail, Class: class}
	case ess.ClassSystemic:
		return Decision{Outcome: Pause, Class: class}
	}
	max := p.MaxTries
	var ae *ess.APIError
	if errors.As(err, &ae) {
		if n := ae.MaxTries(); n > 0 && n < max {
			max = n
		}
	}
	if tries >= max {
		return Decision{Outcome: Fail, Class: ess.ClassTransient}
	}
	return Decision{Outcome: Retry, Delay: p.Backoff(tries), Class: ess.ClassTransient}
}

// Backoff is the delay after the tries-th failed try: BaseDelay doubled per
// try up to MaxDelay, of which the upper half is random ("equal jitter"), so
// rows that failed together do not come back together.
func (p RetryPolicy) Backoff(tries int) time.Duration {
	p = p.withDefaults()
	if tries < 1 {
		tries = 1
	}
	d := float64(p.BaseDelay) * math.Pow(2, float64(tries-1))
	if d > float64(p.MaxDelay) {
		d = float64(p.MaxDelay)
	}
	return p.jitter(time.Duration(d))
}

func (p RetryPolicy) jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + time.Duration(p.Rand()*float64(d-half))
}

// retryError tells the asynq server when to run a task again and whether the
// failed run counts as a try (see IsFailure and RetryDelay).
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

// retryAfter makes a task run again after d, counting the run as a failure.
func retryAfter(err error, d time.Duration) error {
	return &retryError{delay: d, failure: true, err: err}
}

// snooze makes a task run again after d without counting a failure.
func snooze(err error, d time.Duration) error { return &retryError{delay: d, failure: false, err: err} }

// IsFailure is the asynq.Config.IsFailure of onboard's servers: a snoozed
// task (rate limiter, polling, shutdown) has not failed.
func IsFailure(err error) bool {
	var re *retryError
	if errors.As(err, &re) {
		return re.failure
	}
	return true
}

// RetryDelayFunc returns the asynq.Config.RetryDelayFunc of onboard's
// servers: the delay the handler asked for, else the policy's back-off.
func RetryDelayFunc(p RetryPolicy) asynq.RetryDelayFunc {
	return func(n int, err error, _ *asynq.Task) time.Duration {
		var re *retryError
		if errors.As(err, &re) {
			return re.delay
		}
		return p.Backoff(n + 1)
	}
}
