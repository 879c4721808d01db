package repository

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
)

// importOrgs imports one accepted row per OpenId for appID and returns their
// ids in order.
func importOrgs(t *testing.T, appID string, services []onboard.ServiceType, openIDs ...string) []int64 {
	t.Helper()
	ctx := context.Background()
	var rows []*onboard.Row
	for i, id := range openIDs {
		rows = append(rows, acceptedRow(i+2, id, "测试公司"+id, services...))
	}
	p := params(appID)
	p.Now = clock
	mustImport(t, p, source(rows...))
	var err error
	ids := make([]int64, len(openIDs))
	for i, id := range openIDs {
		if ids[i], err = testStore.OrgIDByOpenID(ctx, appID, id); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

var clock = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

var testLimits = onboard.DispatchLimits{
	Window: map[string]int{onboard.WorkSync: 100, onboard.WorkLogin: 100, onboard.WorkService: 100, onboard.WorkCheck: 100, onboard.WorkPoll: 1},
	Lease:  func(string, int) time.Duration { return 30 * time.Second },
}

// dispatch runs one dispatch at now (limited to app) and returns what it
// handed out.
func dispatch(t *testing.T, app string, now time.Time, lim onboard.DispatchLimits) []onboard.Work {
	t.Helper()
	lim.AppIDs = []string{app}
	out, ok, err := testStore.Dispatch(context.Background(), now, lim, func(context.Context, []onboard.Work) error { return nil })
	if err != nil || !ok {
		t.Fatalf("dispatch: ok %v, %v", ok, err)
	}
	var ws []onboard.Work
	for _, d := range out {
		ws = append(ws, d.Work...)
	}
	return ws
}

func claim(t *testing.T, w onboard.Work, now time.Time) onboard.Work {
	t.Helper()
	c, err := testStore.ClaimWork(context.Background(), w.ID, w.Attempt, now, 30*time.Second)
	if err != nil {
		t.Fatalf("claim %s work %d attempt %d: %v", w.Kind, w.ID, w.Attempt, err)
	}
	return c
}

func ofKind(ws []onboard.Work, kind string) []onboard.Work {
	var out []onboard.Work
	for _, w := range ws {
		if w.Kind == kind {
			out = append(out, w)
		}
	}
	return out
}

func stateOf(t *testing.T, id int64) string {
	t.Helper()
	o, err := testStore.OnboardingOrg(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	return o.State
}

// syncAll dispatches the sync work of app at now and completes it (no
// console link): every organization then waits for authorization.
func syncAll(t *testing.T, app string, now time.Time) {
	t.Helper()
	for _, w := range ofKind(dispatch(t, app, now, testLimits), onboard.WorkSync) {
		w = claim(t, w, now)
		if err := testStore.CompleteSync(context.Background(), w, "req", false,
			onboard.Awaiting{Deadline: now.Add(time.Hour), PollAt: now.Add(time.Second)}, now); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWorkLifecycle: the import's work is handed out once while it is in
// flight, handed out again under a new attempt when its lease runs out (the
// task was lost), a task of the old attempt finds nothing to claim, and the
// outcome and the next step are recorded together, once.
func TestWorkLifecycle(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, nil, "a", "b")
	first := ofKind(dispatch(t, app, clock, testLimits), onboard.WorkSync)
	if len(first) != 2 || first[0].Attempt != 1 {
		t.Fatalf("first dispatch: %+v; want both syncs, attempt 1", first)
	}
	if again := dispatch(t, app, clock.Add(10*time.Second), testLimits); len(again) != 0 {
		t.Fatalf("work in flight handed out twice: %+v", again)
	}
	// Redis lost the tasks: once the lease is over they come back.
	lost := dispatch(t, app, clock.Add(31*time.Second), testLimits)
	if len(lost) != 2 || lost[0].Attempt != 2 {
		t.Fatalf("after the lease: %+v; want both again, attempt 2", lost)
	}
	if _, err := testStore.ClaimWork(ctx, first[0].ID, first[0].Attempt, clock, time.Minute); !errors.Is(err, ErrStale) {
		t.Fatalf("claim of the lost attempt: %v, want ErrStale", err)
	}
	now := clock.Add(32 * time.Second)
	w := claim(t, lost[0], now)
	aw := onboard.Awaiting{Deadline: now.Add(time.Hour), PollAt: now.Add(5 * time.Second)}
	if err := testStore.CompleteSync(ctx, w, "req-1", false, aw, now); err != nil {
		t.Fatal(err)
	}
	if st := stateOf(t, w.OrgID); st != onboard.StateAwaitingAuth {
		t.Fatalf("after sync: %s, want awaiting_auth", st)
	}
	events, _ := testStore.OrgEvents(ctx, w.OrgID)
	// The same outcome recorded again (a retried write) changes nothing.
	if err := testStore.CompleteSync(ctx, w, "req-1", false, aw, now); err != nil {
		t.Fatal(err)
	}
	if again, _ := testStore.OrgEvents(ctx, w.OrgID); len(again) != len(events) {
		t.Errorf("a repeated outcome added events: %d, then %d", len(events), len(again))
	}
	// The next step is due with it: one polling round, not before PollAt.
	if ws := ofKind(dispatch(t, app, now.Add(time.Second), testLimits), onboard.WorkPoll); len(ws) != 0 {
		t.Errorf("polling handed out before it is due: %+v", ws)
	}
	polls := ofKind(dispatch(t, app, now.Add(6*time.Second), testLimits), onboard.WorkPoll)
	if len(polls) != 1 {
		t.Fatalf("polling after the sync: %+v, want one round", polls)
	}
	// The other organization's admin gets a console link first.
	w2 := claim(t, lost[1], now)
	if err := testStore.CompleteSync(ctx, w2, "req-2", true, aw, now); err != nil {
		t.Fatal(err)
	}
	if st := stateOf(t, ids[1]); st != onboard.StateQueued {
		t.Fatalf("synced, link pending: %s, want still queued", st)
	}
	logins := ofKind(dispatch(t, app, now.Add(7*time.Second), testLimits), onboard.WorkLogin)
	if len(logins) != 1 || logins[0].OrgID != ids[1] {
		t.Fatalf("login work: %+v", logins)
	}
	lw := claim(t, logins[0], now)
	link := &onboard.LoginURL{URL: "https://console/x", ExpiresAt: now.Add(24 * time.Hour), Operator: "adm", Endpoint: "H5", RequestID: "req-3"}
	if err := testStore.CompleteLogin(ctx, lw, link, nil, aw, now); err != nil {
		t.Fatal(err)
	}
	o, _ := testStore.OnboardingOrg(ctx, ids[1], false)
	if o.State != onboard.StateAwaitingAuth || o.LoginURL != link.URL {
		t.Errorf("after the link: %s %q", o.State, o.LoginURL)
	}
	left, _ := testStore.DueWork(ctx, app, 10)
	if len(left) != 1 || left[0].Kind != onboard.WorkPoll {
		t.Errorf("work left: %+v, want the polling round alone", left)
	}
}

// TestDispatchWindowPauseAndFailedPut: the window bounds what is in flight
// per application and kind; a paused application gets nothing; a put that
// fails records nothing, so the same attempts are handed out next time.
func TestDispatchWindowPauseAndFailedPut(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	importOrgs(t, app, nil, "w1", "w2", "w3")
	lim := testLimits
	lim.Window = map[string]int{onboard.WorkSync: 2}
	if got := dispatch(t, app, clock, lim); len(got) != 2 {
		t.Fatalf("window 2: %d handed out", len(got))
	}
	if got := dispatch(t, app, clock.Add(time.Second), lim); len(got) != 0 {
		t.Fatalf("a full window: %d more handed out", len(got))
	}
	lim.AppIDs = []string{app}
	_, _, err := testStore.Dispatch(ctx, clock.Add(40*time.Second), lim, func(context.Context, []onboard.Work) error {
		return errors.New("redis: connection refused")
	})
	if err == nil {
		t.Fatal("a failed put was not reported")
	}
	if err := testStore.RecordDispatchError(ctx, err, clock.Add(40*time.Second)); err != nil {
		t.Fatal(err)
	}
	act, err := testStore.Activity(ctx, app, clock.Add(40*time.Second))
	if err != nil || len(act) != 1 || !strings.Contains(act[0].Dispatch.Error, "connection refused") {
		t.Fatalf("activity after a failed dispatch: %+v, %v", act, err)
	}
	again := dispatch(t, app, clock.Add(41*time.Second), lim)
	if len(again) != 2 || again[0].Attempt != 2 {
		t.Fatalf("after the failed put: %+v; want 2 at attempt 2 (the first lease ran out)", again)
	}
	if act, _ := testStore.Activity(ctx, app, clock.Add(41*time.Second)); act[0].Dispatch.Error != "" || act[0].Dispatch.Tasks != 2 {
		t.Errorf("activity after a good dispatch: %+v", act[0].Dispatch)
	}
	if _, err := testStore.PauseApplication(ctx, app, "SyncProxyOrganization", onboard.StepError{Code: "AuthFailure"}, clock); err != nil {
		t.Fatal(err)
	}
	if got := dispatch(t, app, clock.Add(2*time.Minute), testLimits); len(got) != 0 {
		t.Fatalf("a paused application got %d tasks", len(got))
	}
	if _, err := testStore.ClaimWork(ctx, again[0].ID, again[0].Attempt, clock.Add(2*time.Minute), time.Minute); !errors.Is(err, ErrPaused) {
		t.Fatalf("claim while paused: %v, want ErrPaused", err)
	}
	if due, err := testStore.ResumeApplication(ctx, app, clock.Add(3*time.Minute)); err != nil || due != 3 {
		t.Fatalf("resume: %d due, %v; want the 3 syncs", due, err)
	}
	if got := dispatch(t, app, clock.Add(3*time.Minute), testLimits); len(got) != 3 {
		t.Fatalf("after resume: %d handed out, want 3", len(got))
	}
}

// TestRetryWork: a counted retry adds a try and starts the run of errors
// once; a wait counts nothing; both make the work due again at their time.
func TestRetryWork(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, nil, "r1")
	w := claim(t, dispatch(t, app, clock, testLimits)[0], clock)
	e := &onboard.StepError{Code: "InternalError", Message: "busy", RequestID: "rq"}
	if err := testStore.RetryWork(ctx, w, onboard.RetryDecision{Outcome: onboard.RetryLater, At: clock.Add(5 * time.Second)}, "sync", e, clock); err != nil {
		t.Fatal(err)
	}
	w = claim(t, dispatch(t, app, clock.Add(5*time.Second), testLimits)[0], clock.Add(5*time.Second))
	if w.Tries != 1 || !w.FirstErrorAt.Equal(clock) {
		t.Fatalf("after one counted retry: tries %d since %v", w.Tries, w.FirstErrorAt)
	}
	if err := testStore.RetryWork(ctx, w, onboard.RetryDecision{Outcome: onboard.WaitLater, At: clock.Add(6 * time.Second)}, "sync", nil, clock.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	w = claim(t, dispatch(t, app, clock.Add(6*time.Second), testLimits)[0], clock.Add(6*time.Second))
	if err := testStore.RetryWork(ctx, w, onboard.RetryDecision{Outcome: onboard.RetryLater, At: clock.Add(9 * time.Second)}, "sync", e, clock.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	ws, _ := testStore.DueWork(ctx, app, 1)
	if ws[0].Tries != 2 || !ws[0].FirstErrorAt.Equal(clock) || !ws[0].DueAt.Equal(clock.Add(9*time.Second)) {
		t.Errorf("after a wait and a second retry: %+v; want 2 tries since the first error, due at +9s", ws[0])
	}
	o, _ := testStore.OnboardingOrg(ctx, ids[0], false)
	if o.State != onboard.StateQueued {
		t.Errorf("a retried company moved to %s", o.State)
	}
	w = claim(t, ws[0], clock.Add(9*time.Second))
	if err := testStore.FailSync(ctx, w, onboard.StepError{Code: "InvalidParameter", Message: "bad"}, clock.Add(9*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := stateOf(t, ids[0]); st != onboard.StateFailed {
		t.Errorf("after a permanent error: %s, want failed", st)
	}
	if left, _ := testStore.DueWork(ctx, app, 10); len(left) != 0 {
		t.Errorf("a failed company keeps work: %+v", left)
	}
}

// TestPollRounds: one polling round however many organizations wait; the
// pause between rounds doubles while nothing changes; polling ends when
// nothing waits; the deadline times a company out.
func TestPollRounds(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, nil, "a", "b", "late")
	syncAll(t, app, clock)
	sched := onboard.PollSchedule{Min: time.Minute, Max: time.Hour}
	now := clock.Add(2 * time.Second)
	polls := ofKind(dispatch(t, app, now, testLimits), onboard.WorkPoll)
	if len(polls) != 1 {
		t.Fatalf("rounds handed out: %d, want 1", len(polls))
	}
	w := claim(t, polls[0], now)
	round, next, err := testStore.FinishPollRound(ctx, w, onboard.PollRound{StartedAt: now, Mode: "single", Waiting: 3, AppOrgs: 4, Calls: 3}, sched, false, now)
	if err != nil || round != 1 || next.Sub(now) != 2*time.Minute {
		t.Fatalf("after round 1 (nothing changed): round %d next in %v, %v; want round 1, next in 2m", round, next.Sub(now), err)
	}
	out, err := testStore.ApplyAuthStatus(ctx, ids[0], 1, onboard.AuthObservation{Status: onboard.AuthVerified, AdminOpenID: "adm"}, now)
	if err != nil || out.To != onboard.StateDone {
		t.Fatalf("verified without services: %+v, %v", out, err)
	}
	out, _ = testStore.ApplyAuthStatus(ctx, ids[1], 1, onboard.AuthObservation{Status: onboard.AuthRejected}, now)
	if out.To != onboard.StateAuthRejected {
		t.Fatalf("rejected: %+v", out)
	}
	if out, _ := testStore.ApplyAuthStatus(ctx, ids[2], 1, onboard.AuthObservation{Status: "VERIFYING"}, now); out.To != onboard.StateAwaitingAuth {
		t.Errorf("before the deadline: %+v", out)
	}
	if out, _ := testStore.ApplyAuthStatus(ctx, ids[2], 1, onboard.AuthObservation{}, clock.Add(2*time.Hour)); out.To != onboard.StateTimedOut {
		t.Errorf("after the deadline: %+v, want timed_out", out)
	}
	if o, _ := testStore.OnboardingOrg(ctx, ids[2], false); o.AuthStatus != "VERIFYING" {
		t.Errorf("an empty status overwrote the last one seen: %q", o.AuthStatus)
	}
	now2 := now.Add(2 * time.Minute)
	w = claim(t, ofKind(dispatch(t, app, now2, testLimits), onboard.WorkPoll)[0], now2)
	if round, next, err := testStore.FinishPollRound(ctx, w, onboard.PollRound{StartedAt: now2, Mode: "single", Waiting: 3, Calls: 3, Changed: 3}, sched, false, now2); err != nil || round != 2 || !next.IsZero() {
		t.Errorf("nothing waits after round 2: round %d next %v, %v; want polling to end", round, next, err)
	}
	if left, _ := testStore.DueWork(ctx, app, 10); len(left) != 0 {
		t.Errorf("work left after polling ended: %+v", left)
	}
	rounds, err := testStore.PollRounds(ctx, app)
	if err != nil || len(rounds) != 2 || rounds[1].Changed != 3 || rounds[0].Calls != 3 {
		t.Errorf("recorded rounds %+v, %v", rounds, err)
	}
	// A rejected company verified later moves on.
	if out, _ := testStore.ApplyAuthStatus(ctx, ids[1], 1, onboard.AuthObservation{Status: onboard.AuthVerified}, now2); out.To != onboard.StateDone {
		t.Errorf("rejected then verified: %+v, want done", out)
	}
}

// TestServicesDecideTheEnd: verification makes each requested service's
// work due; the organization is done once every service is opened or
// linked, failed when one was refused; an answer for work that moved on
// changes nothing.
func TestServicesDecideTheEnd(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceMobileCheckApprover}, "ok", "bad")
	syncAll(t, app, clock)
	for _, id := range ids {
		out, err := testStore.ApplyAuthStatus(ctx, id, 1, onboard.AuthObservation{Status: onboard.AuthVerified, AdminOpenID: "a"}, clock)
		if err != nil || out.To != onboard.StateOpeningServices || len(out.Services) != 2 {
			t.Fatalf("verified: %+v, %v; want opening 2 services", out, err)
		}
	}
	svc := map[[2]any]onboard.Work{}
	for _, w := range ofKind(dispatch(t, app, clock, testLimits), onboard.WorkService) {
		svc[[2]any{w.OrgID, w.Service}] = claim(t, w, clock)
	}
	if len(svc) != 4 {
		t.Fatalf("%d service work handed out, want 4", len(svc))
	}
	exp := clock.Add(24 * time.Hour)
	st, err := testStore.CompleteService(ctx, svc[[2]any{ids[0], "AUTO_SIGN"}], onboard.ServiceResult{State: onboard.ServiceLinked, URL: "https://x/y", ExpiresAt: exp}, adminWait, clock)
	if err != nil || st != onboard.StateOpeningServices {
		t.Fatalf("first service: %q, %v; want still opening", st, err)
	}
	if st, _ := testStore.CompleteService(ctx, svc[[2]any{ids[0], "MOBILE_CHECK_APPROVER"}], onboard.ServiceResult{State: onboard.ServiceOpened}, adminWait, clock); st != onboard.StateAwaitingAdmin {
		t.Errorf("both services requested, one linked: %q, want awaiting_admin", st)
	}
	if st, _ := testStore.CompleteService(ctx, svc[[2]any{ids[0], "AUTO_SIGN"}], onboard.ServiceResult{State: onboard.ServiceFailed}, adminWait, clock); st != "" {
		t.Errorf("an answer for work that moved on: %q, want nothing", st)
	}
	e := onboard.StepError{Code: "OperationDenied", Message: "no", RequestID: "r9"}
	testStore.CompleteService(ctx, svc[[2]any{ids[1], "AUTO_SIGN"}], onboard.ServiceResult{State: onboard.ServiceFailed, Err: &e}, adminWait, clock)
	st, err = testStore.CompleteService(ctx, svc[[2]any{ids[1], "MOBILE_CHECK_APPROVER"}], onboard.ServiceResult{State: onboard.ServiceOpened}, adminWait, clock)
	if err != nil || st != onboard.StateFailed {
		t.Fatalf("a refused service: %q, %v; want failed", st, err)
	}
	var code, reqID string
	testStore.pool.QueryRow(ctx, `SELECT last_error_code, last_request_id FROM organizations WHERE id = $1`, ids[1]).Scan(&code, &reqID)
	if code != "OperationDenied" || reqID != "r9" {
		t.Errorf("failed organization keeps code %q RequestId %q, want the service's", code, reqID)
	}
}

var adminWait = onboard.AdminWait{Deadline: clock.Add(time.Hour), CheckAt: clock.Add(time.Minute)}

// TestAdminOpensTheLinks: a company waits for its admin with a check of its
// services due; the platform's answer opens a service that is ENABLE, asks
// again only for a link that expired while its service is not open, and the
// company is done once every service is open, or timed out past the
// deadline.
func TestAdminOpensTheLinks(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceDownloadFlow}, "open", "late")
	syncAll(t, app, clock)
	for _, id := range ids {
		if _, err := testStore.ApplyAuthStatus(ctx, id, 1, onboard.AuthObservation{Status: onboard.AuthVerified, AdminOpenID: "a"}, clock); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range ofKind(dispatch(t, app, clock, testLimits), onboard.WorkService) {
		w = claim(t, w, clock)
		exp := clock.Add(24 * time.Hour)
		if w.Service == "DOWNLOAD_FLOW" {
			exp = clock.Add(time.Minute)
		}
		if _, err := testStore.CompleteService(ctx, w, onboard.ServiceResult{State: onboard.ServiceLinked, URL: "https://x/" + w.Service, ExpiresAt: exp}, adminWait, clock); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if st := stateOf(t, id); st != onboard.StateAwaitingAdmin {
			t.Fatalf("every link issued: %s, want awaiting_admin", st)
		}
	}
	sched := onboard.PollSchedule{Min: time.Minute, Max: time.Hour}
	// Two minutes on: the first company's admin opened both; the second's
	// opened AUTO_SIGN, and its DOWNLOAD_FLOW link expired.
	now := clock.Add(2 * time.Minute)
	checks := ofKind(dispatch(t, app, now, testLimits), onboard.WorkCheck)
	if len(checks) != 2 {
		t.Fatalf("checks due: %d, want 2", len(checks))
	}
	for _, w := range checks {
		w = claim(t, w, now)
		enabled := []string{"AUTO_SIGN", "DOWNLOAD_FLOW"}
		if w.OrgID == ids[1] {
			enabled = []string{"AUTO_SIGN"}
		}
		st, renewed, err := testStore.CompleteCheck(ctx, w, enabled, sched, now)
		switch {
		case err != nil:
			t.Fatal(err)
		case w.OrgID == ids[0] && (st != onboard.StateDone || len(renewed) != 0):
			t.Errorf("both open: %s, renewed %v; want done", st, renewed)
		case w.OrgID == ids[1] && (st != onboard.StateOpeningServices || len(renewed) != 1 || renewed[0] != "DOWNLOAD_FLOW"):
			t.Errorf("one open, one expired: %s, renewed %v; want DOWNLOAD_FLOW asked for again", st, renewed)
		}
	}
	// The renewed link is issued; the admin never opens it: timed out.
	svc := ofKind(dispatch(t, app, now, testLimits), onboard.WorkService)
	if len(svc) != 1 || svc[0].Service != "DOWNLOAD_FLOW" {
		t.Fatalf("service work after the check: %+v", svc)
	}
	w := claim(t, svc[0], now)
	if st, _ := testStore.CompleteService(ctx, w, onboard.ServiceResult{State: onboard.ServiceLinked, URL: "https://x/2", ExpiresAt: now.Add(24 * time.Hour)},
		onboard.AdminWait{Deadline: now.Add(30 * 24 * time.Hour), CheckAt: now.Add(time.Minute)}, now); st != onboard.StateAwaitingAdmin {
		t.Fatalf("renewed link: %s, want awaiting_admin", st)
	}
	later := clock.Add(2 * time.Hour) // past the first deadline, which is kept
	w = claim(t, ofKind(dispatch(t, app, later, testLimits), onboard.WorkCheck)[0], later)
	if st, _, _ := testStore.CompleteCheck(ctx, w, []string{"AUTO_SIGN"}, sched, later); st != onboard.StateTimedOut {
		t.Errorf("past the admin deadline: %s, want timed_out", st)
	}
	if left, _ := testStore.DueWork(ctx, app, 10); len(ofKind(left, onboard.WorkCheck))+len(ofKind(left, onboard.WorkService)) != 0 {
		t.Errorf("service work left: %+v", left)
	}
}

// TestPauseAndResume: a pause keeps the first error and blocks the
// application's unfinished batches; resume unblocks, with the work kept.
func TestPauseAndResume(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	importOrgs(t, app, []onboard.ServiceType{onboard.ServiceAutoSign}, "p1", "p2")
	first := onboard.StepError{Code: "AuthFailure.SignatureFailure", Message: "bad signature", RequestID: "r1"}
	if paused, err := testStore.PauseApplication(ctx, app, "SyncProxyOrganization", first, clock); err != nil || !paused {
		t.Fatalf("pause: %v, %v", paused, err)
	}
	if paused, _ := testStore.PauseApplication(ctx, app, "SyncProxyOrganization", onboard.StepError{Code: "Other"}, clock); paused {
		t.Error("a second pause replaced the first")
	}
	a, _ := testStore.Application(ctx, app)
	if !a.Paused() || a.PauseCode != first.Code || a.PauseRequestID != "r1" {
		t.Errorf("application %+v", a)
	}
	blocked, _ := testStore.BlockedReasons(ctx, 0)
	n := 0
	for _, r := range blocked {
		if containsAll(r, app, first.Code, "r1", "onboard resume --app-id "+app) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d batches blocked with the reason, want 1: %v", n, blocked)
	}
	due, err := testStore.ResumeApplication(ctx, app, clock)
	if err != nil || due != 2 {
		t.Fatalf("resume: %d due, %v; want the 2 syncs", due, err)
	}
	if a, _ := testStore.Application(ctx, app); a.Paused() {
		t.Error("still paused")
	}
	for _, r := range mustBlocked(t) {
		if containsAll(r, app) {
			t.Errorf("still blocked: %s", r)
		}
	}
}

func mustBlocked(t *testing.T) map[int64]string {
	b, err := testStore.BlockedReasons(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
