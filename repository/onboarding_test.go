package repository

import (
	"context"
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
	mustImport(t, params(appID), source(rows...))
	var err error
	ids := make([]int64, len(openIDs))
	for i, id := range openIDs {
		if ids[i], err = testStore.OrgIDByOpenID(ctx, appID, id); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// TestAuthPollSchedule checks that one polling round is scheduled however
// many organizations start waiting, that the pause between rounds doubles
// while nothing changes, that a stale round is ignored, and that polling
// stops when nothing waits.
func TestAuthPollSchedule(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, nil, "a", "b")
	deadline := time.Now().Add(time.Hour)
	t1, changed, err := testStore.MarkAwaitingAuth(ctx, ids[0], 1, deadline, time.Second)
	if err != nil || !changed || t1 == nil || t1.Round != 1 {
		t.Fatalf("first waiting organization: ticket %+v changed %v err %v; want round 1", t1, changed, err)
	}
	t2, changed, err := testStore.MarkAwaitingAuth(ctx, ids[1], 1, deadline, time.Second)
	if err != nil || !changed || t2 != nil {
		t.Fatalf("second waiting organization: ticket %+v err %v; want none (round 1 is scheduled)", t2, err)
	}
	if _, again, _ := testStore.MarkAwaitingAuth(ctx, ids[1], 1, deadline, time.Second); again {
		t.Error("an organization already waiting moved again")
	}
	if tk, _, _ := testStore.MarkAwaitingAuth(ctx, ids[0], 7, deadline, time.Second); tk != nil {
		t.Error("a task of a data version that does not exist scheduled polling")
	}

	// Nothing changed in round 1: round 2 comes after twice the pause.
	start := time.Now()
	next, err := testStore.FinishAuthPoll(ctx, app, onboard.PollRound{Round: 1, StartedAt: start, Mode: "single", Waiting: 2, AppOrgs: 3, Calls: 2},
		time.Minute, time.Hour, false)
	if err != nil || next == nil || next.Round != 2 {
		t.Fatalf("after round 1: %+v, %v; want round 2", next, err)
	}
	if d := time.Until(next.At); d < 110*time.Second || d > 130*time.Second {
		t.Errorf("round 2 in %v, want about 2 minutes", d)
	}
	// A late duplicate of round 1 changes nothing.
	if dup, err := testStore.FinishAuthPoll(ctx, app, onboard.PollRound{Round: 1, StartedAt: start, Mode: "single"}, time.Minute, time.Hour, false); err != nil || dup != nil {
		t.Errorf("stale round 1 again: %+v, %v; want nothing", dup, err)
	}

	// Round 2 sees one verified and one rejected: polling stops.
	out, err := testStore.ApplyAuthStatus(ctx, ids[0], 1, onboard.AuthObservation{Status: "VERIFIED", AdminOpenID: "adm", LegalOpenID: "leg"}, time.Now())
	if err != nil || out.To != onboard.StateDone {
		t.Fatalf("verified without services: %+v, %v; want done", out, err)
	}
	out, err = testStore.ApplyAuthStatus(ctx, ids[1], 1, onboard.AuthObservation{Status: "VERIFYINGAUTHORIZATIONFILEREJECT"}, time.Now())
	if err != nil || out.To != onboard.StateAuthRejected {
		t.Fatalf("rejected: %+v, %v", out, err)
	}
	if last, err := testStore.FinishAuthPoll(ctx, app, onboard.PollRound{Round: 2, StartedAt: time.Now(), Mode: "list", Waiting: 2, AppOrgs: 3, Calls: 1, Changed: 2},
		time.Minute, time.Hour, false); err != nil || last != nil {
		t.Errorf("nothing waits after round 2: %+v, %v; want polling to stop", last, err)
	}
	rounds, err := testStore.PollRounds(ctx, app)
	if err != nil || len(rounds) != 2 || rounds[1].Changed != 2 || rounds[0].Calls != 2 {
		t.Errorf("recorded rounds %+v, %v", rounds, err)
	}
	// A rejected company that gets verified later moves on.
	if out, _ := testStore.ApplyAuthStatus(ctx, ids[1], 1, onboard.AuthObservation{Status: "VERIFIED"}, time.Now()); out.To != onboard.StateDone {
		t.Errorf("rejected then verified: %+v, want done", out)
	}
}

func TestAuthDeadline(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, nil, "late")
	now := time.Now()
	if _, _, err := testStore.MarkAwaitingAuth(ctx, ids[0], 1, now.Add(time.Minute), time.Second); err != nil {
		t.Fatal(err)
	}
	if out, _ := testStore.ApplyAuthStatus(ctx, ids[0], 1, onboard.AuthObservation{Status: "VERIFYING"}, now); out.To != onboard.StateAwaitingAuth {
		t.Errorf("before the deadline: %+v, want still waiting", out)
	}
	out, err := testStore.ApplyAuthStatus(ctx, ids[0], 1, onboard.AuthObservation{}, now.Add(2*time.Minute))
	if err != nil || out.To != onboard.StateTimedOut {
		t.Fatalf("after the deadline: %+v, %v; want timed_out", out, err)
	}
	o, err := testStore.OnboardingOrg(ctx, ids[0], false)
	if err != nil || o.AuthStatus != "VERIFYING" {
		t.Errorf("an unknown status overwrote the last one seen: %+v, %v", o, err)
	}
}

// TestServicesDecideTheEnd: done once every service is opened or linked,
// failed when one was refused; a second answer for a service changes nothing.
func TestServicesDecideTheEnd(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceMobileCheckApprover}, "ok", "bad")
	for _, id := range ids {
		if _, _, err := testStore.MarkAwaitingAuth(ctx, id, 1, time.Now().Add(time.Hour), time.Second); err != nil {
			t.Fatal(err)
		}
		out, err := testStore.ApplyAuthStatus(ctx, id, 1, onboard.AuthObservation{Status: "VERIFIED", AdminOpenID: "a"}, time.Now())
		if err != nil || out.To != onboard.StateOpeningServices || len(out.Services) != 2 {
			t.Fatalf("verified: %+v, %v; want opening 2 services", out, err)
		}
	}
	exp := time.Now().Add(24 * time.Hour)
	st, err := testStore.RecordService(ctx, ids[0], 1, "AUTO_SIGN", onboard.ServiceResult{State: onboard.ServiceLinked, URL: "https://x/y", ExpiresAt: exp})
	if err != nil || st != onboard.StateOpeningServices {
		t.Fatalf("first service: %q, %v; want still opening", st, err)
	}
	if st, _ := testStore.RecordService(ctx, ids[0], 1, "MOBILE_CHECK_APPROVER", onboard.ServiceResult{State: onboard.ServiceOpened}); st != onboard.StateDone {
		t.Errorf("both services: %q, want done", st)
	}
	if st, _ := testStore.RecordService(ctx, ids[0], 1, "AUTO_SIGN", onboard.ServiceResult{State: onboard.ServiceFailed}); st != "" {
		t.Errorf("an answer for a finished organization: %q, want nothing", st)
	}

	e := onboard.StepError{Code: "OperationDenied", Message: "no", RequestID: "r9"}
	testStore.RecordService(ctx, ids[1], 1, "AUTO_SIGN", onboard.ServiceResult{State: onboard.ServiceFailed, Err: &e})
	st, err = testStore.RecordService(ctx, ids[1], 1, "MOBILE_CHECK_APPROVER", onboard.ServiceResult{State: onboard.ServiceOpened})
	if err != nil || st != onboard.StateFailed {
		t.Fatalf("a refused service: %q, %v; want failed", st, err)
	}
	var code, reqID string
	testStore.pool.QueryRow(ctx, `SELECT last_error_code, last_request_id FROM organizations WHERE id = $1`, ids[1]).Scan(&code, &reqID)
	if code != "OperationDenied" || reqID != "r9" {
		t.Errorf("failed organization keeps code %q RequestId %q, want the service's", code, reqID)
	}
}

// TestPauseAndResume: a pause keeps the first error and blocks the
// application's unfinished batches; resume lists the pending work with a
// new generation and unblocks.
func TestPauseAndResume(t *testing.T) {
	ctx := context.Background()
	app := newAppID(t)
	ids := importOrgs(t, app, []onboard.ServiceType{onboard.ServiceAutoSign}, "p1", "p2")
	first := onboard.StepError{Code: "AuthFailure.SignatureFailure", Message: "bad signature", RequestID: "r1"}
	if paused, err := testStore.PauseApplication(ctx, app, "SyncProxyOrganization", first); err != nil || !paused {
		t.Fatalf("pause: %v, %v", paused, err)
	}
	if paused, _ := testStore.PauseApplication(ctx, app, "SyncProxyOrganization", onboard.StepError{Code: "Other"}); paused {
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
	gen, pending, err := testStore.ResumeApplication(ctx, app)
	if err != nil || gen != 1 || len(pending) != 2 || pending[0].ID != ids[0] || pending[0].State != onboard.StateQueued {
		t.Fatalf("resume: gen %d pending %+v err %v", gen, pending, err)
	}
	if a, _ := testStore.Application(ctx, app); a.Paused() {
		t.Error("still paused")
	}
	for _, r := range mustBlocked(t) {
		if containsAll(r, app) {
			t.Errorf("still blocked: %s", r)
		}
	}
	if gen, _, _ := testStore.ResumeApplication(ctx, app); gen != 2 {
		t.Errorf("second resume: generation %d, want 2", gen)
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
