package repository

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// TestRecordCallback: a callback is stored once per MsgId and makes due the
// check its company waits for; the batch's links show the latest one.
func TestRecordCallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	res := mustImport(t, params(app), source(acceptedRow(2, "c1", "甲", onboard.ServiceAutoSign), acceptedRow(3, "c2", "乙")))
	c1, c2 := org(t, app, "c1"), org(t, app, "c2")
	webExec(t, `DELETE FROM work WHERE app_id = $1`, app)
	webExec(t, `UPDATE organizations SET state = $2 WHERE id = $1`, c1.ID, onboard.StateAwaitingAdmin)
	webExec(t, `UPDATE organization_services SET state = 'linked', operate_url = 'https://x/1', url_expires_at = $2 WHERE org_id = $1`, c1.ID, time.Now().Add(time.Hour))
	webExec(t, `UPDATE organizations SET state = $2 WHERE id = $1`, c2.ID, onboard.StateAwaitingAuth)
	now := time.Now()
	cases := []struct {
		cb   onboard.Callback
		want string
	}{
		{onboard.Callback{MsgID: "m1", MsgType: "OperateExtendedService", AppID: app, OpenID: "c1", Onboarding: true}, onboard.CallbackCheckDue},
		{onboard.Callback{MsgID: "m1", MsgType: "OperateExtendedService", AppID: app, OpenID: "c1", Onboarding: true}, onboard.CallbackDuplicate},
		{onboard.Callback{MsgID: "m2", MsgType: "OrgOpenTsignBiz", AppID: app, OpenID: "c2", Onboarding: true}, onboard.CallbackVerifyDue},
		{onboard.Callback{MsgID: "m3", MsgType: "OrgOpenTsignBiz", AppID: app, OpenID: "nobody", Onboarding: true}, onboard.CallbackUnknownCompany},
		{onboard.Callback{MsgID: "m4", MsgType: "FlowStatusChange", AppID: app, OpenID: "c1"}, onboard.CallbackIgnored},
	}
	for _, c := range cases {
		if got, err := testStore.RecordCallback(ctx, c.cb, now); err != nil || got != c.want {
			t.Errorf("callback %s about %s: %q, %v; want %q", c.cb.MsgID, c.cb.OpenID, got, err, c.want)
		}
	}
	if n := count(t, `SELECT count(*) FROM callbacks WHERE app_id = $1`, app); n != 4 {
		t.Errorf("%d callbacks stored, want 4 (once per MsgId)", n)
	}
	ws, _ := testStore.DueWork(ctx, app, 10)
	kinds := map[string]int64{}
	for _, w := range ws {
		kinds[w.Kind] = w.OrgID
	}
	if kinds[onboard.WorkCheck] != c1.ID || kinds[onboard.WorkVerify] != c2.ID || len(ws) != 2 {
		t.Errorf("work due after the callbacks: %+v; want c1's service check and c2's verification", ws)
	}
	// Nothing moved on a callback alone.
	if o := org(t, app, "c2"); o.State != onboard.StateAwaitingAuth {
		t.Errorf("c2 moved to %s on a callback", o.State)
	}
	links, err := testStore.BatchLinks(ctx, res.BatchID, 10)
	if err != nil || len(links) != 1 || links[0].LastCallback != "OperateExtendedService" || links[0].LastCallbackAt.IsZero() {
		t.Errorf("links with their last callback: %+v, %v", links, err)
	}
}

// TestEarlyCallbackMakesTheCheckDue: a callback that arrives while its
// company's sync (or service request) is still in flight finds nothing
// waiting; when the step then makes the company wait, the check is due at
// once, not at the next polling round, and the callback's verdict says so.
func TestEarlyCallbackMakesTheCheckDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	clock := time.Now()
	importOrgs(t, app, nil, "early")
	syncs := ofKind(dispatch(t, app, clock, testLimits), onboard.WorkSync)
	if len(syncs) != 1 {
		t.Fatalf("sync work: %+v", syncs)
	}
	w := claim(t, syncs[0], clock)
	// The platform tells of the verification before the sync's answer is recorded.
	cb := onboard.Callback{MsgID: "early-1", MsgType: "OrgOpenTsignBiz", AppID: app, OpenID: "early", Onboarding: true}
	if got, err := testStore.RecordCallback(ctx, cb, clock.Add(time.Second)); err != nil || got != onboard.CallbackNothingWaiting {
		t.Fatalf("callback while syncing: %q, %v; want nothing_waiting", got, err)
	}
	now := clock.Add(2 * time.Second)
	aw := onboard.Awaiting{Deadline: now.Add(time.Hour), PollAt: now.Add(time.Hour)}
	if err := testStore.CompleteSync(ctx, w, "req-1", false, aw, now); err != nil {
		t.Fatal(err)
	}
	verify := ofKind(dispatch(t, app, now, testLimits), onboard.WorkVerify)
	if len(verify) != 1 || verify[0].OrgID != w.OrgID {
		t.Errorf("work handed out when the company starts waiting: %+v; want its verification now", verify)
	}
	if v := count(t, `SELECT count(*) FROM callbacks WHERE msg_id = 'early-1' AND verdict = $1`, onboard.CallbackVerifyDue); v != 1 {
		t.Errorf("the early callback's verdict did not become %s", onboard.CallbackVerifyDue)
	}
	// A callback from before the company's current state is not early: a
	// company queued again after it is not checked for it.
	webExec(t, `UPDATE callbacks SET verdict = $2 WHERE msg_id = $1`, "early-1", onboard.CallbackNothingWaiting)
	if early, err := takeEarly(ctx, w.OrgID, now.Add(time.Minute)); err != nil || early {
		t.Errorf("a callback from before the company's state counted as early: %v %v", early, err)
	}
}

// takeEarly runs takeEarlyCallbacks for organization id after moving its
// state's start to since.
func takeEarly(ctx context.Context, id int64, since time.Time) (bool, error) {
	var early bool
	err := testStore.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE organizations SET state_changed_at = $2 WHERE id = $1`, id, since); err != nil {
			return err
		}
		var err error
		early, err = takeEarlyCallbacks(ctx, tx, id, onboard.CallbackVerifyDue)
		return err
	})
	return early, err
}
