package onboard

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func TestRetryPolicyDecide(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: 8 * time.Second, Budget: time.Hour,
		RateLimitedDelay: 2 * time.Second, InfraDelay: 4 * time.Second, Rand: func() float64 { return 0.5 }}
	cases := []struct {
		name    string
		f       Failure
		w       Work
		now     time.Time
		outcome RetryOutcome
		after   time.Duration // At - now; -1: not checked
	}{
		{"transient first try", Failure{Class: ClassTransient}, Work{}, t0, RetryLater, 750 * time.Millisecond},
		{"transient third try", Failure{Class: ClassTransient}, Work{Tries: 2, FirstErrorAt: t0}, t0.Add(time.Minute), RetryLater, 3 * time.Second},
		{"back-off capped", Failure{Class: ClassTransient}, Work{Tries: 40, FirstErrorAt: t0}, t0.Add(time.Minute), RetryLater, 6 * time.Second},
		{"many tries within the budget still retry", Failure{Class: ClassTransient}, Work{Tries: 500, FirstErrorAt: t0}, t0.Add(59 * time.Minute), RetryLater, -1},
		{"past the budget fails", Failure{Class: ClassTransient}, Work{Tries: 3, FirstErrorAt: t0}, t0.Add(time.Hour), FailWork, -1},
		{"a code's own cap", Failure{Class: ClassTransient, MaxTries: 3}, Work{Tries: 2, FirstErrorAt: t0}, t0.Add(time.Second), FailWork, -1},
		{"before a code's own cap", Failure{Class: ClassTransient, MaxTries: 3}, Work{Tries: 1, FirstErrorAt: t0}, t0.Add(time.Second), RetryLater, -1},
		{"rate limited uses no try", Failure{Class: ClassRateLimited}, Work{Tries: 99, FirstErrorAt: t0.Add(-48 * time.Hour)}, t0, WaitLater, 1500 * time.Millisecond},
		{"limiter wait", Failure{Class: ClassRateLimited, Wait: 7 * time.Second}, Work{}, t0, WaitLater, 7 * time.Second},
		{"our servers unreachable use no try, however long", Failure{Class: ClassInfra}, Work{Tries: 5, FirstErrorAt: t0.Add(-48 * time.Hour)}, t0, WaitLater, 3 * time.Second},
		{"shutdown hands back at once", Failure{Class: ClassCanceled}, Work{}, t0, WaitLater, 0},
		{"permanent fails at once", Failure{Class: ClassPermanent}, Work{}, t0, FailWork, -1},
		{"systemic pauses", Failure{Class: ClassSystemic}, Work{Tries: 5, FirstErrorAt: t0}, t0.Add(2 * time.Hour), PauseApp, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Decide(c.f, c.w, c.now)
			if d.Outcome != c.outcome {
				t.Fatalf("outcome %v, want %v", d.Outcome, c.outcome)
			}
			if c.after >= 0 && d.At.Sub(c.now) != c.after {
				t.Errorf("due in %v, want %v", d.At.Sub(c.now), c.after)
			}
		})
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	p := RetryPolicy{}.WithDefaults()
	if p.Budget != 24*time.Hour || p.MaxDelay != 5*time.Minute || p.BaseDelay != 5*time.Second {
		t.Fatalf("defaults: budget %v, back-off %v..%v; want 24h, 5s..5m", p.Budget, p.BaseDelay, p.MaxDelay)
	}
	// A platform that fails for 23 hours does not fail a company.
	w := Work{Tries: 300, FirstErrorAt: t0}
	if d := p.Decide(Failure{Class: ClassTransient}, w, t0.Add(23*time.Hour)); d.Outcome != RetryLater {
		t.Fatalf("after 23h of transient errors: %v, want retry", d.Outcome)
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
	if d := p.Backoff(1000); d > time.Minute || d < 30*time.Second {
		t.Errorf("Backoff(1000) = %v, want capped near 1m", d)
	}
}

func TestAuthTransition(t *testing.T) {
	deadline := t0.Add(time.Hour)
	cases := []struct {
		state, status string
		now           time.Time
		services      int
		want          string
	}{
		{StateAwaitingAuth, AuthVerified, t0, 2, StateOpeningServices},
		{StateAwaitingAuth, AuthVerified, t0, 0, StateDone},
		{StateAwaitingAuth, AuthRejected, t0, 1, StateAuthRejected},
		{StateAwaitingAuth, "UNVERIFIED", t0, 1, StateAwaitingAuth},
		{StateAwaitingAuth, "", t0, 1, StateAwaitingAuth},
		{StateAwaitingAuth, "UNVERIFIED", deadline.Add(time.Second), 1, StateTimedOut},
		{StateAwaitingAuth, "", deadline.Add(time.Second), 1, StateTimedOut},
		{StateAwaitingAuth, AuthVerified, deadline.Add(time.Second), 1, StateOpeningServices},
		{StateAuthRejected, AuthVerified, t0, 1, StateOpeningServices},
		{StateAuthRejected, "UNVERIFIED", deadline.Add(time.Second), 1, StateAuthRejected},
		{StateTimedOut, AuthVerified, t0, 0, StateDone},
		{StateQueued, AuthVerified, t0, 1, StateQueued},
		{StateDone, AuthRejected, t0, 1, StateDone},
		{StateOpeningServices, AuthVerified, t0, 1, StateOpeningServices},
	}
	for _, c := range cases {
		if got := AuthTransition(c.state, c.status, deadline, c.now, c.services); got != c.want {
			t.Errorf("AuthTransition(%s, %q, at %v, %d services) = %s, want %s", c.state, c.status, c.now.Sub(t0), c.services, got, c.want)
		}
	}
}

func TestServicesOutcome(t *testing.T) {
	for _, c := range []struct {
		requested, failed, linked int
		want                      string
	}{{2, 0, 0, StateOpeningServices}, {1, 1, 1, StateOpeningServices}, {0, 1, 1, StateFailed}, {0, 0, 2, StateAwaitingAdmin}, {0, 0, 0, StateDone}} {
		if got := ServicesOutcome(c.requested, c.failed, c.linked); got != c.want {
			t.Errorf("ServicesOutcome(%d, %d, %d) = %s, want %s", c.requested, c.failed, c.linked, got, c.want)
		}
	}
}

func TestCheckDelayAndLinkDecision(t *testing.T) {
	for _, c := range []struct{ waited, want time.Duration }{
		{0, time.Minute}, {10 * time.Minute, 5 * time.Minute}, {48 * time.Hour, time.Hour}} {
		if got := CheckDelay(c.waited, time.Minute, time.Hour); got != c.want {
			t.Errorf("CheckDelay(%v) = %v, want %v", c.waited, got, c.want)
		}
	}
	exp := t0.Add(time.Hour)
	for _, c := range []struct {
		enabled bool
		now     time.Time
		want    string
	}{{true, t0, ServiceOpened}, {true, exp.Add(time.Hour), ServiceOpened}, {false, t0, ServiceLinked}, {false, exp, ServiceRequested}} {
		if got := LinkDecision(c.enabled, exp, c.now); got != c.want {
			t.Errorf("LinkDecision(%v, at %v) = %s, want %s", c.enabled, c.now.Sub(t0), got, c.want)
		}
	}
}

func TestPollDelay(t *testing.T) {
	for _, c := range []struct {
		idle int
		want time.Duration
	}{{0, time.Minute}, {1, 2 * time.Minute}, {3, 8 * time.Minute}, {6, time.Hour}, {5000, time.Hour}} {
		if got := PollDelay(c.idle, time.Minute, time.Hour); got != c.want {
			t.Errorf("PollDelay(%d) = %v, want %v", c.idle, got, c.want)
		}
	}
}

func TestLoginDecision(t *testing.T) {
	org := func(admin, op, url string, exp time.Time, status string) *Org {
		return &Org{Data: OrgData{AdminOpenID: admin}, LoginOperator: op, LoginURL: url, LoginExpires: exp, AuthStatus: status}
	}
	cases := []struct {
		name string
		o    *Org
		need bool
		skip bool
	}{
		{"no admin named", org("", "", "", time.Time{}, ""), false, false},
		{"first link", org("a", "", "", time.Time{}, ""), true, false},
		{"valid link for the same admin", org("a", "a", "u", t0.Add(time.Hour), ""), false, false},
		{"expired link", org("a", "a", "u", t0.Add(-time.Hour), ""), true, false},
		{"another operator is activating", org("b", "a", "u", t0.Add(time.Hour), "UNVERIFIED"), false, true},
		{"another operator, company verified", org("b", "a", "u", t0.Add(time.Hour), AuthVerified), true, false},
	}
	for _, c := range cases {
		need, skip := LoginDecision(c.o, t0)
		if need != c.need || (skip != nil) != c.skip {
			t.Errorf("%s: need %v skip %v, want need %v skip %v", c.name, need, skip, c.need, c.skip)
		}
	}
}

func TestLoginLinkLifetime(t *testing.T) {
	if LoginLinkLifetime("PC") != 5*time.Minute || LoginLinkLifetime("H5") != 30*24*time.Hour {
		t.Fatal("PC links live 5 minutes, mobile ones 30 days")
	}
}
