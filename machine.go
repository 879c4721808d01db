package onboard

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// The onboarding state machine as pure functions of (state, event, now):
// the workers ask them what follows, the repository persists the answer in
// the same transaction as the state change, together with the work that is
// due next (a Work row). Nothing here reads a clock or a database.
//
//	queued ──sync──► (login) ──► awaiting_auth ──poll──► opening_services ──service──► awaiting_admin ──check──► done
//	   │                              │  │                      │                           │  (links opened)
//	   └─► failed                     │  └─► timed_out          └─► failed (refused)        └─► timed_out
//	                                  └─► auth_rejected

// Kinds of work. Each is one step that calls the platform once (a polling
// round: once per company or once per page).
const (
	WorkSync    = "sync"    // SyncProxyOrganization of one data version
	WorkLogin   = "login"   // CreateConsoleLoginUrl for the admin the row named
	WorkPoll    = "poll"    // one authorization polling round of an application
	WorkService = "service" // ModifyExtendedService of one requested service
	WorkCheck   = "check"   // DescribeExtendedServiceAuthInfo of a company whose admin must open links
	WorkVerify  = "verify"  // DescribeChannelOrganizations of one company a callback named
)

// WorkKinds lists every kind of work.
var WorkKinds = []string{WorkSync, WorkLogin, WorkPoll, WorkService, WorkCheck, WorkVerify}

// Work is one step that is due: Postgres records it in the transaction of
// the state change that made it due; the dispatcher moves it into the queue
// when it is due, under a TaskID made of its id and Attempt.
type Work struct {
	ID          int64
	AppID       string
	Kind        string // Work*
	OrgID       int64  // 0 for WorkPoll
	DataVersion int
	Service     string // WorkService only
	DueAt       time.Time
	// Attempt counts the dispatches of this work; a task carries the
	// attempt it was dispatched as, and only the latest may run.
	Attempt int
	// Tries counts the failed tries of the current run of transient
	// errors, FirstErrorAt is when that run began (zero: none).
	Tries        int
	FirstErrorAt time.Time
}

// Authorization statuses of the platform that move an organization.
const (
	AuthVerified = "VERIFIED"
	AuthRejected = "VERIFYINGAUTHORIZATIONFILEREJECT"
)

// LoginDecision says whether the organization's admin needs a console link
// now. It does not when the row named no admin, or a link for that admin is
// still valid. While the company is activating, a link for a second
// operator would discard the first one's verification: then no link is
// asked for and skip says why.
func LoginDecision(o *Org, now time.Time) (need bool, skip *StepError) {
	admin := o.Data.AdminOpenID
	switch {
	case admin == "":
		return false, nil
	case o.LoginOperator == admin && o.LoginURL != "" && o.LoginExpires.After(now):
		return false, nil
	case o.LoginOperator != "" && o.LoginOperator != admin && o.AuthStatus != AuthVerified:
		return false, &StepError{Code: "onboard.LoginOperatorInUse",
			Message: "a console link was already issued to another operator of this company; a second one would discard its verification"}
	}
	return true, nil
}

// AuthTransition is the state an organization in state moves to when the
// platform reports status for it at now (status "" when the platform did
// not mention it), given its verification deadline:
//   - VERIFIED moves awaiting_auth, auth_rejected and timed_out on, to
//     opening_services, or to done when no service waits (pendingServices);
//   - the rejection moves awaiting_auth to auth_rejected;
//   - any other status past the deadline moves awaiting_auth to timed_out.
//
// Every other state, and every other case, stays as it is.
func AuthTransition(state, status string, deadline, now time.Time, pendingServices int) string {
	switch state {
	case StateAwaitingAuth, StateAuthRejected, StateTimedOut:
	default:
		return state
	}
	switch {
	case status == AuthVerified && pendingServices > 0:
		return StateOpeningServices
	case status == AuthVerified:
		return StateDone
	case state != StateAwaitingAuth:
		return state // a final state changes only on verification
	case status == AuthRejected:
		return StateAuthRejected
	case !deadline.IsZero() && now.After(deadline):
		return StateTimedOut
	}
	return state
}

// ServicesOutcome is the state of an organization once a service request
// ended or the platform said which services are open: opening_services
// while any is still requested, then failed when one was refused, then
// awaiting_admin while a link is still to be opened, else done.
func ServicesOutcome(requested, failed, linked int) string {
	switch {
	case requested > 0:
		return StateOpeningServices
	case failed > 0:
		return StateFailed
	case linked > 0:
		return StateAwaitingAdmin
	}
	return StateDone
}

// ServiceEnabled is the platform's status of an open extended service
// (DescribeExtendedServiceAuthInfo).
const ServiceEnabled = "ENABLE"

// CheckDelay is the pause before asking the platform again whether an
// admin opened the links of a company that has waited for waited: half
// that, at least min and at most max, so a link opened at once is seen soon
// and one that waits for days costs a call an hour.
func CheckDelay(waited, min, max time.Duration) time.Duration {
	return clamp(waited/2, min, max)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	if d < lo {
		return lo
	}
	if d > hi {
		return hi
	}
	return d
}

// LinkDecision is what the platform's word on one linked service means: it
// is open (ENABLE), its link must be asked for again (expired while the
// service is not open), or it keeps waiting.
func LinkDecision(enabled bool, expires, now time.Time) string {
	switch {
	case enabled:
		return ServiceOpened
	case !expires.IsZero() && !now.Before(expires):
		return ServiceRequested
	}
	return ServiceLinked
}

// PollDelay is the pause before the next polling round of an application
// after idle rounds in a row in which nothing changed: min doubled per idle
// round, at most max.
func PollDelay(idle int, min, max time.Duration) time.Duration {
	d := float64(min) * math.Pow(2, float64(idle))
	if d > float64(max) || math.IsInf(d, 0) {
		return max
	}
	return time.Duration(d)
}

// LoginLinkLifetime is how long a console link of endpoint lives: 5 minutes
// for the PC console, 30 days for the mobile kinds.
func LoginLinkLifetime(endpoint string) time.Duration {
	switch strings.ToUpper(endpoint) {
	case "", "PC", "CHANNEL":
		return 5 * time.Minute
	}
	return 30 * 24 * time.Hour
}

// ErrorClass says what a failed step should do next.
type ErrorClass string

// Error classes. The first five are the platform's (ess.Class has the same
// names); ClassInfra is onboard's own servers.
const (
	ClassTransient   ErrorClass = "transient"    // back off and try again, within the budget
	ClassRateLimited ErrorClass = "rate_limited" // try again soon; uses no try
	ClassPermanent   ErrorClass = "permanent"    // this row's data is wrong: fail it
	ClassSystemic    ErrorClass = "systemic"     // every row would fail: pause the application
	ClassCanceled    ErrorClass = "canceled"     // shutdown: hand the work back
	ClassInfra       ErrorClass = "infra"        // Postgres, Redis or the limiter unreachable: wait
)

// Failure is what went wrong with one try of a step.
type Failure struct {
	Class ErrorClass
	// MaxTries is the error's own cap on tries (a few codes have one);
	// 0: none.
	MaxTries int
	// Wait is how long the rate limiter asked to wait; 0: the policy's.
	Wait time.Duration
}

// RetryOutcome is what to do with work after a failure.
type RetryOutcome int

// Outcomes of RetryPolicy.Decide.
const (
	// RetryLater: run the work again at At; the try counts.
	RetryLater RetryOutcome = iota
	// WaitLater: run the work again at At; nothing counts.
	WaitLater
	// FailWork: the organization fails (with the error).
	FailWork
	// PauseApp: the application pauses; the work waits for resume.
	PauseApp
)

func (o RetryOutcome) String() string {
	switch o {
	case RetryLater:
		return "retry"
	case WaitLater:
		return "wait"
	case FailWork:
		return "fail"
	case PauseApp:
		return "pause"
	}
	return "RetryOutcome(?)"
}

// RetryDecision is the policy's answer.
type RetryDecision struct {
	Outcome RetryOutcome
	At      time.Time // for RetryLater and WaitLater
}

// RetryPolicy decides what follows a failed try. Zero fields take the
// documented defaults.
type RetryPolicy struct {
	// BaseDelay is the back-off after the first failed try; it doubles per
	// try up to MaxDelay. Defaults 5s and 5m.
	BaseDelay, MaxDelay time.Duration
	// Budget is how long transient errors may go on, from the first of a
	// run of them, before the organization fails; default 24h.
	Budget time.Duration
	// RateLimitedDelay is the wait after RequestLimitExceeded; default 1s.
	RateLimitedDelay time.Duration
	// InfraDelay is the wait while onboard's own servers cannot be
	// reached; default 2s.
	InfraDelay time.Duration
	// Rand returns a number in [0, 1) for the jitter; nil: math/rand.
	Rand func() float64
}

// WithDefaults returns p with its zero fields set to the defaults.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.BaseDelay <= 0 {
		p.BaseDelay = 5 * time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 5 * time.Minute
	}
	p.MaxDelay = max(p.MaxDelay, p.BaseDelay)
	if p.Budget <= 0 {
		p.Budget = 24 * time.Hour
	}
	if p.RateLimitedDelay <= 0 {
		p.RateLimitedDelay = time.Second
	}
	if p.InfraDelay <= 0 {
		p.InfraDelay = 2 * time.Second
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Decide returns what follows failure f of work w at now. A transient error
// fails the organization only when the error's own cap of tries is reached
// or the run of transient errors began longer than Budget ago; the first
// try of a run starts it (w.FirstErrorAt zero).
func (p RetryPolicy) Decide(f Failure, w Work, now time.Time) RetryDecision {
	p = p.WithDefaults()
	switch f.Class {
	case ClassRateLimited:
		d := f.Wait
		if d <= 0 {
			d = p.jitter(p.RateLimitedDelay)
		}
		return RetryDecision{Outcome: WaitLater, At: now.Add(d)}
	case ClassCanceled:
		return RetryDecision{Outcome: WaitLater, At: now}
	case ClassInfra:
		return RetryDecision{Outcome: WaitLater, At: now.Add(p.jitter(p.InfraDelay))}
	case ClassPermanent:
		return RetryDecision{Outcome: FailWork}
	case ClassSystemic:
		return RetryDecision{Outcome: PauseApp}
	}
	tries := w.Tries + 1
	first := w.FirstErrorAt
	if first.IsZero() {
		first = now
	}
	if (f.MaxTries > 0 && tries >= f.MaxTries) || now.Sub(first) >= p.Budget {
		return RetryDecision{Outcome: FailWork}
	}
	return RetryDecision{Outcome: RetryLater, At: now.Add(p.Backoff(tries))}
}

// Backoff is the delay after the tries-th failed try: BaseDelay doubled per
// try up to MaxDelay, of which the upper half is random ("equal jitter"),
// so rows that failed together do not come back together.
func (p RetryPolicy) Backoff(tries int) time.Duration {
	p = p.WithDefaults()
	tries = max(tries, 1)
	d := float64(p.BaseDelay) * math.Pow(2, float64(min(tries-1, 62)))
	if d > float64(p.MaxDelay) {
		d = float64(p.MaxDelay)
	}
	return p.jitter(time.Duration(d))
}

func (p RetryPolicy) jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + time.Duration(p.Rand()*float64(d-half))
}
