package repository

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ess-onboard/onboard"
)

func TestUpdatePlatformStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	mustImport(t, params(app), source(acceptedRow(3, "o1", "一号公司"), acceptedRow(4, "o2", "二号公司")))
	o1, o2 := org(t, app, "o1"), org(t, app, "o2")
	webExec(t, `UPDATE organizations SET state = $2, auth_status = 'VERIFIED', platform_admin_open_id = 'admin-a' WHERE id = $1`, o1.ID, onboard.StateDone)

	ups := []onboard.PlatformUpdate{
		{ID: o1.ID, DataVersion: o1.DataVersion, Status: "VERIFIED", AdminOpenID: "admin-b", LegalOpenID: "legal-1", PlatformOrgID: "P1"},
		{ID: o2.ID, DataVersion: o2.DataVersion, Status: "VERIFIED", AdminOpenID: "admin-c"}, // still queued: left alone
	}
	n, err := testStore.UpdatePlatformStatus(ctx, ups, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("first update: %d, %v; want 1", n, err)
	}
	known, err := testStore.KnownOrgs(ctx, app, []string{"o1", "o2", "nobody"})
	if err != nil || len(known) != 2 {
		t.Fatalf("KnownOrgs: %+v %v", known, err)
	}
	for _, k := range known {
		switch k.OpenID {
		case "o1":
			if k.AdminOpenID != "admin-b" || k.LegalOpenID != "legal-1" || k.PlatformOrgID != "P1" || k.AuthStatus != "VERIFIED" {
				t.Errorf("o1 after the update: %+v", k)
			}
		case "o2":
			if k.AdminOpenID != "" || k.State != onboard.StateQueued {
				t.Errorf("a queued organization was changed: %+v", k)
			}
		}
	}
	// The same answer again changes nothing; an empty id keeps the stored one.
	ups[0].LegalOpenID = ""
	if n, err := testStore.UpdatePlatformStatus(ctx, ups, time.Now()); err != nil || n != 0 {
		t.Errorf("repeated update: %d, %v; want 0", n, err)
	}
}

// TestCheckExpiredLinks: the sweep asks for a check (not a new link) of a
// company waiting for its admin whose link expired: whether to renew is the
// platform's answer's to decide.
func TestCheckExpiredLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	mustImport(t, params(app), source(acceptedRow(3, "o1", "一号公司", onboard.ServiceAutoSign, onboard.ServiceMobileCheckApprover)))
	o1 := org(t, app, "o1")
	now := time.Now()
	webExec(t, `UPDATE organizations SET state = $2 WHERE id = $1`, o1.ID, onboard.StateAwaitingAdmin)
	webExec(t, `UPDATE organization_services SET state = 'linked', operate_url = 'https://x.test/a', url_expires_at = $2
		WHERE org_id = $1 AND service = 'AUTO_SIGN'`, o1.ID, now.Add(-time.Minute))
	webExec(t, `UPDATE organization_services SET state = 'opened' WHERE org_id = $1 AND service = 'MOBILE_CHECK_APPROVER'`, o1.ID)
	webExec(t, `DELETE FROM work WHERE org_id = $1`, o1.ID)
	links, err := testStore.CheckExpiredLinks(ctx, app, now)
	if err != nil || len(links) != 1 || links[0].Service != "AUTO_SIGN" || links[0].OrgID != o1.ID {
		t.Fatalf("expired links: %+v %v", links, err)
	}
	if got := org(t, app, "o1").State; got != onboard.StateAwaitingAdmin {
		t.Errorf("state after the sweep: %s, want still awaiting_admin", got)
	}
	ws, err := testStore.DueWork(ctx, app, 10)
	if err != nil || len(ws) != 1 || ws[0].Kind != onboard.WorkCheck || ws[0].DueAt.After(now) {
		t.Fatalf("work after the sweep: %+v %v; want a check due now", ws, err)
	}
	if got := services(t, o1.ID); len(got) != 2 || got[0] != "AUTO_SIGN:linked" {
		t.Errorf("services after the sweep: %v; nothing is renewed before the platform is asked", got)
	}
}

func TestRetryFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	res := mustImport(t, params(app), source(acceptedRow(3, "o1", "一号公司", onboard.ServiceAutoSign), acceptedRow(4, "o2", "二号公司")))
	o1 := org(t, app, "o1")
	webExec(t, `UPDATE organizations SET state = 'failed', last_error_code = 'X' WHERE id = $1`, o1.ID)
	webExec(t, `UPDATE organization_services SET state = 'failed' WHERE org_id = $1`, o1.ID)
	webExec(t, `DELETE FROM work WHERE org_id = $1`, o1.ID)
	n, err := testStore.RetryFailed(ctx, res.BatchID, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("RetryFailed: %d, %v; want 1", n, err)
	}
	if ws := syncWork(t, app); len(ws) != 2 || ws[0].OrgID != o1.ID {
		t.Errorf("sync work after the retry: %+v; want o1's again beside o2's", ws)
	}
	if o := org(t, app, "o1"); o.State != onboard.StateQueued || o.ErrorCode != "" {
		t.Errorf("retried organization: %+v", o)
	}
	if got := services(t, o1.ID); len(got) != 1 || got[0] != "AUTO_SIGN:requested" {
		t.Errorf("services after the retry: %v", got)
	}
	if n, err := testStore.RetryFailed(ctx, res.BatchID, time.Now()); err != nil || n != 0 {
		t.Errorf("second retry with nothing failed: %d, %v", n, err)
	}
}

func TestReconcileRunRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	id, err := testStore.StartReconcileRun(ctx, app, "cli", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runs, err := testStore.ReconcileRuns(ctx, app, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !runs[0].FinishedAt.IsZero() {
		t.Fatalf("a started run: %+v", runs)
	}
	run := onboard.ReconcileRun{ID: id, FinishedAt: time.Now(), Pages: 3, PlatformOrgs: 450, StatusUpdates: 7, Verified: 2, Requeued: 1, UnknownOrgs: 1, Mismatched: 1}
	drift := []onboard.Drift{{OpenID: "ghost", Kind: onboard.DriftUnknown, Platform: "幽灵公司"}, {OpenID: "o1", Kind: onboard.DriftName, Ours: "甲", Platform: "乙"}}
	if err := testStore.FinishReconcileRun(ctx, &run, drift); err != nil {
		t.Fatal(err)
	}
	runs, err = testStore.ReconcileRuns(ctx, app, 5)
	if err != nil {
		t.Fatal(err)
	}
	got := runs[0]
	if got.FinishedAt.IsZero() || got.Pages != 3 || got.PlatformOrgs != 450 || got.StatusUpdates != 7 || got.Verified != 2 ||
		got.Requeued != 1 || got.UnknownOrgs != 1 || got.Mismatched != 1 || got.Trigger != "cli" || got.Changes() != 8 {
		t.Errorf("finished run: %+v", got)
	}
	gotDrift, err := testStore.ReconcileDrift(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(drift, gotDrift); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
}

func TestTryLockReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	unlock, ok, err := testStore.TryLockReconcile(ctx, app)
	if err != nil || !ok {
		t.Fatalf("first lock: ok %v err %v", ok, err)
	}
	if _, ok2, err := testStore.TryLockReconcile(ctx, app); err != nil || ok2 {
		t.Fatalf("second lock while held: ok %v err %v", ok2, err)
	}
	other, ok3, err := testStore.TryLockReconcile(ctx, app+"-other")
	if err != nil || !ok3 {
		t.Fatalf("another application's lock: ok %v err %v", ok3, err)
	}
	other()
	unlock()
	again, ok4, err := testStore.TryLockReconcile(ctx, app)
	if err != nil || !ok4 {
		t.Fatalf("lock after unlock: ok %v err %v", ok4, err)
	}
	again()
}

func webExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := testStore.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
