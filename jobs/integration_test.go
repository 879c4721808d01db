package jobs_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/benchrate"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/results"
	"github.com/hibiken/asynq"
	"github.com/xuri/excelize/v2"
)

var (
	autoSign   = onboard.ServiceAutoSign            // answered with a link
	mobileChk  = onboard.ServiceMobileCheckApprover // opened at once
	downloadFl = onboard.ServiceDownloadFlow        // answered with a link
)

// TestEndToEnd takes a batch through every path: plain companies to done
// with their services linked or opened and their admins' console links, a
// row the platform refuses (one call, failed), a rejected authorization
// letter, and a company that never finishes (timed_out).
func TestEndToEnd(t *testing.T) {
	h := newHarness(t, esssim.Options{})
	var data []onboard.OrgData
	for i := 0; i < 10; i++ {
		var svc []onboard.ServiceType
		switch i % 3 {
		case 0:
			svc = []onboard.ServiceType{autoSign, mobileChk}
		case 1:
			svc = []onboard.ServiceType{downloadFl}
		}
		data = append(data, benchrate.Org("e2e", i, svc, i%2 == 0))
	}
	bad := benchrate.Org("e2e", 10, []onboard.ServiceType{autoSign}, true)
	bad.LegalIDCardNumber = "110105194912310021" // wrong check digit: the platform refuses it
	rejected := benchrate.Org("e2e", 11, []onboard.ServiceType{autoSign}, false)
	late := benchrate.Org("e2e", 12, nil, false)
	data = append(data, bad, rejected, late)

	h.startWorker(workerOpts{authTimeout: 6 * time.Second})
	// Pin two companies by hand as soon as the platform knows them.
	go func() {
		pinned := map[string]string{rejected.OpenID: ess.StatusVerifyingFileRejected, late.OpenID: ess.StatusVerifying}
		for len(pinned) > 0 {
			for id, st := range pinned {
				if err := h.sim.SetStatus(appID, id, st); err == nil {
					delete(pinned, id)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	batch := h.importOrgs(data)
	counts := h.waitFinal(batch, 90*time.Second)

	want := map[string]int{onboard.StateDone: 10, onboard.StateFailed: 1, onboard.StateAuthRejected: 1, onboard.StateTimedOut: 1}
	for s, n := range want {
		if counts[s] != n {
			t.Errorf("%s: %d organizations, want %d (all: %v)", s, counts[s], n, counts)
		}
	}

	now := time.Now()
	for i, d := range data[:10] {
		o := h.org(d.OpenID)
		if o.State != onboard.StateDone {
			continue // counted above
		}
		if o.AdminOpenID == "" || o.LegalOpenID == "" {
			t.Errorf("%s: admin %q, legal rep %q: want both OpenIds stored", d.OpenID, o.AdminOpenID, o.LegalOpenID)
		}
		if d.AdminOpenID != "" {
			if o.LoginURL == "" || o.LoginOperator != d.AdminOpenID {
				t.Errorf("%s: login link %q for %q, want one for %s", d.OpenID, o.LoginURL, o.LoginOperator, d.AdminOpenID)
			}
			if left := o.LoginExpires.Sub(now); left < 29*24*time.Hour || left > 31*24*time.Hour {
				t.Errorf("%s: login link expires in %v, want 30 days (H5)", d.OpenID, left)
			}
		} else if o.LoginURL != "" {
			t.Errorf("%s: a login link without an admin in the row", d.OpenID)
		}
		if len(o.Services) != len(d.Services) {
			t.Errorf("%s: %d services, want %d", d.OpenID, len(o.Services), len(d.Services))
		}
		for _, s := range o.Services {
			switch onboard.ServiceType(s.Service) {
			case autoSign, downloadFl:
				// The admin opened the link; the platform said ENABLE.
				if s.State != onboard.ServiceOpened || !strings.HasPrefix(s.URL, "http") {
					t.Errorf("%s %s: state %s link %q, want opened through its link", d.OpenID, s.Service, s.State, s.URL)
				}
				if left := s.ExpiresAt.Sub(now); left < 23*time.Hour || left > 25*time.Hour {
					t.Errorf("%s %s: link expires in %v, want 24h", d.OpenID, s.Service, left)
				}
			case mobileChk:
				if s.State != onboard.ServiceOpened || s.URL != "" {
					t.Errorf("%s %s: state %s link %q, want opened without a link", d.OpenID, s.Service, s.State, s.URL)
				}
			}
		}
		// The platform agrees the services were asked for.
		view, ok := h.sim.Org(appID, d.OpenID)
		if !ok {
			t.Fatalf("%s unknown to the platform", d.OpenID)
		}
		if len(view.Services) != len(d.Services) {
			t.Errorf("%s: the platform has %d services, want %d (row %d)", d.OpenID, len(view.Services), len(d.Services), i)
		}
		if view.Syncs != 1 {
			t.Errorf("%s synced %d times, want once", d.OpenID, view.Syncs)
		}
	}

	ob := h.org(bad.OpenID)
	if ob.State != onboard.StateFailed {
		t.Errorf("bad row: state %s, want failed", ob.State)
	}
	st := h.sim.Stats()
	if n := st.Total(ess.ActionSyncProxyOrganization, "InvalidParameter.CardNumber"); n != 1 {
		t.Errorf("the refused row was sent %d times, want exactly once", n)
	}
	events, err := h.store.OrgEvents(context.Background(), ob.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if last.To != onboard.StateFailed || last.Code != "InvalidParameter.CardNumber" || last.RequestID == "" {
		t.Errorf("bad row's last event %+v: want failed with the platform's code and RequestId", last)
	}
	if o := h.org(rejected.OpenID); o.State != onboard.StateAuthRejected || o.AuthStatus != ess.StatusVerifyingFileRejected {
		t.Errorf("rejected company: state %s status %s", o.State, o.AuthStatus)
	}
	if o := h.org(late.OpenID); o.State != onboard.StateTimedOut {
		t.Errorf("late company: state %s, want timed_out", o.State)
	}
	if n := st.RateLimited[ess.ActionSyncProxyOrganization] + st.RateLimited[ess.ActionDescribeChannelOrganizations] +
		st.RateLimited[ess.ActionModifyExtendedService] + st.RateLimited[ess.ActionCreateConsoleLoginUrl]; n != 0 {
		t.Errorf("the platform refused %d calls for the rate limit", n)
	}
	if rounds := h.checkPollingCost(); rounds == 0 {
		t.Error("no polling round recorded")
	}
	checkResultsFile(t, h, batch, map[string]func(col map[string]string){
		data[0].OpenID: func(col map[string]string) {
			if col["Status"] != onboard.StateDone || !strings.Contains(col["Authorization"], ess.StatusVerified) ||
				!strings.HasPrefix(col["Login link"], "http") || !strings.Contains(col["Login link"], "expires") ||
				!strings.Contains(col["Services"], "AUTO_SIGN: opened") || !strings.Contains(col["Services"], "MOBILE_CHECK_APPROVER: opened") {
				t.Errorf("results row of a done company: %v", col)
			}
		},
		bad.OpenID: func(col map[string]string) {
			if col["Status"] != onboard.StateFailed || col["Error code"] != "InvalidParameter.CardNumber" || col["Error message"] == "" {
				t.Errorf("results row of the refused company: %v", col)
			}
		},
		rejected.OpenID: func(col map[string]string) {
			if col["Status"] != onboard.StateAuthRejected || !strings.Contains(col["Authorization"], ess.StatusVerifyingFileRejected) {
				t.Errorf("results row of the rejected company: %v", col)
			}
		},
	})
}

// checkResultsFile writes the batch's results file and runs check on the
// row of each OpenId given (columns by header).
func checkResultsFile(t *testing.T, h *harness, batch int64, checks map[string]func(col map[string]string)) {
	t.Helper()
	ctx := context.Background()
	b, err := h.store.Batch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := results.Write(&buf, b, func(fn func(repository.ResultRow) error) error { return h.store.BatchRows(ctx, batch, fn) }); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	seen := 0
	for _, r := range rows {
		if len(r) > 0 && r[0] == onboard.FieldOpenID {
			header = r
			continue
		}
		if header == nil || len(r) == 0 {
			continue
		}
		if check, ok := checks[r[0]]; ok {
			col := map[string]string{}
			for i, h := range header {
				if i < len(r) {
					col[h] = r[i]
				}
			}
			check(col)
			seen++
		}
	}
	if seen != len(checks) {
		t.Errorf("found %d of the %d rows to check in the results file", seen, len(checks))
	}
}

// TestTransientFaults: with 30% of all calls failing transiently (server
// errors and dropped connections) every company still gets through.
func TestTransientFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, esssim.Options{Seed: 7, Faults: []esssim.Fault{
		{Share: 0.2, Code: "InternalError"},
		{Share: 0.1, Drop: true},
	}})
	var data []onboard.OrgData
	for i := 0; i < 15; i++ {
		data = append(data, benchrate.Org("flaky", i, []onboard.ServiceType{autoSign, mobileChk}, i%2 == 0))
	}
	h.startWorker(workerOpts{})
	batch := h.importOrgs(data)
	counts := h.waitFinal(batch, 3*time.Minute)
	if counts[onboard.StateDone] != len(data) {
		t.Fatalf("states %v, want all %d done", counts, len(data))
	}
	st := h.sim.Stats()
	if st.Total(ess.ActionSyncProxyOrganization, "InternalError")+st.Dropped[ess.ActionSyncProxyOrganization] == 0 {
		t.Error("no sync call failed: the faults did not apply")
	}
	for _, d := range data {
		o := h.org(d.OpenID)
		for _, s := range o.Services {
			if s.State == onboard.ServiceRequested || s.State == onboard.ServiceFailed {
				t.Errorf("%s %s: %s", d.OpenID, s.Service, s.State)
			}
		}
	}
}

// TestSystemicErrorPausesAndResume: with a wrong secret the application is
// paused and its batch blocked, no company fails and few calls are spent;
// after resume with the right secret everything completes.
func TestSystemicErrorPausesAndResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, esssim.Options{})
	var data []onboard.OrgData
	for i := 0; i < 30; i++ {
		data = append(data, benchrate.Org("pause", i, []onboard.ServiceType{mobileChk}, false))
	}
	_, stop := h.startWorker(workerOpts{secretKey: "a-wrong-secret-key", concurrency: 4})
	batch := h.importOrgs(data)
	ctx := context.Background()
	testenv.WaitFor(t, 60*time.Second, "the application to pause", func() bool {
		a, err := h.store.Application(ctx, appID)
		return err == nil && a.Paused()
	})
	// Let the tasks still queued run into the pause.
	testenv.WaitFor(t, 60*time.Second, "the sync queue to drain", func() bool {
		in := inspector(t, h)
		q, err := in.GetQueueInfo(h.prefix + jobs.QueueSync)
		return err == nil && q.Pending == 0 && q.Active == 0 && q.Retry == 0
	})
	stop()

	a, err := h.store.Application(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.PauseCode, "AuthFailure") {
		t.Errorf("pause code %q, want an AuthFailure code", a.PauseCode)
	}
	counts, err := h.store.StateCounts(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if counts[onboard.StateQueued] != len(data) {
		t.Errorf("states while paused %v, want all %d still queued", counts, len(data))
	}
	reasons, err := h.store.BlockedReasons(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if r := reasons[batch]; !strings.Contains(r, a.PauseCode) || !strings.Contains(r, "onboard resume --app-id "+appID) {
		t.Errorf("blocked reason %q: want the code and how to resume", r)
	}
	failedCalls := 0
	for code, n := range h.sim.Stats().Calls[ess.ActionSyncProxyOrganization] {
		if code != "Success" {
			failedCalls += n
		}
	}
	if failedCalls >= len(data)/2 {
		t.Errorf("%d calls failed before the pause took hold; want far fewer than the %d rows", failedCalls, len(data))
	}

	// The operator fixes the secret and resumes.
	w, _ := h.startWorker(workerOpts{})
	res, err := w.Resume(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Due != len(data) {
		t.Errorf("resume found %d steps due, want the %d syncs", res.Due, len(data))
	}
	counts = h.waitFinal(batch, 90*time.Second)
	if counts[onboard.StateDone] != len(data) {
		t.Fatalf("after resume: %v, want all %d done", counts, len(data))
	}
	reasons, _ = h.store.BlockedReasons(ctx, batch)
	if len(reasons) != 0 {
		t.Errorf("batch still blocked after resume: %v", reasons)
	}
}

// TestTwoProcessesShareTheLimit runs two worker processes' servers (own
// Redis connections, own API clients) against one simulator: the platform
// never refuses a call for the rate limit.
func TestTwoProcessesShareTheLimit(t *testing.T) {
	h := newHarness(t, esssim.Options{})
	var data []onboard.OrgData
	for i := 0; i < 60; i++ {
		data = append(data, benchrate.Org("two", i, nil, i%3 == 0))
	}
	h.startWorker(workerOpts{})
	h.startWorker(workerOpts{})
	batch := h.importOrgs(data)
	counts := h.waitFinal(batch, 2*time.Minute)
	if counts[onboard.StateDone] != len(data) {
		t.Fatalf("states %v, want all done", counts)
	}
	st := h.sim.Stats()
	for _, a := range []string{ess.ActionSyncProxyOrganization, ess.ActionCreateConsoleLoginUrl, ess.ActionDescribeChannelOrganizations} {
		if st.RateLimited[a] != 0 {
			t.Errorf("%s: %d calls refused for the rate limit", a, st.RateLimited[a])
		}
		if st.MaxInWindow[a] > esssim.DefaultRateLimit {
			t.Errorf("%s: %d calls in one second, over the limit of %d", a, st.MaxInWindow[a], esssim.DefaultRateLimit)
		}
	}
	if n := st.Total(ess.ActionSyncProxyOrganization, "Success"); n != len(data) {
		t.Errorf("%d syncs, want %d", n, len(data))
	}
}

// TestReimportStartsAgainFromSync: an organization whose data changed is
// synced again from the start; a task of the outdated data version does
// nothing; while the company is still activating, no console link is asked
// for a second operator.
func TestReimportStartsAgainFromSync(t *testing.T) {
	t.Parallel()
	h := newHarness(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}})
	ctx := context.Background()
	h.startWorker(workerOpts{})
	d := benchrate.Org("re", 1, []onboard.ServiceType{autoSign}, true)
	h.importOrgs([]onboard.OrgData{d})
	testenv.WaitFor(t, 60*time.Second, "the first sync", func() bool { return h.org(d.OpenID).State == onboard.StateAwaitingAuth })
	first := h.org(d.OpenID)
	if first.LoginOperator != d.AdminOpenID || first.LoginURL == "" {
		t.Fatalf("first version: login link %q for %q", first.LoginURL, first.LoginOperator)
	}

	// The file comes again with another address and another admin.
	d2 := d
	d2.Address = "广东省 广州市 天河区 体育西路2号"
	d2.AdminOpenID = "re-admin-other"
	batch2 := h.importOrgs([]onboard.OrgData{d2})
	testenv.WaitFor(t, 60*time.Second, "the second sync", func() bool {
		o := h.org(d.OpenID)
		return o.DataVersion == 2 && o.State == onboard.StateAwaitingAuth
	})
	view, _ := h.sim.Org(appID, d.OpenID)
	if view.Syncs != 2 || view.Address != d2.Address {
		t.Errorf("the platform has %d syncs and address %q, want 2 and the new one", view.Syncs, view.Address)
	}
	o := h.org(d.OpenID)
	if o.LoginOperator != d.AdminOpenID || view.ConsoleOpenID != d.AdminOpenID {
		t.Errorf("console link now for %q (platform: %q); a second operator must not get one while the first activates", o.LoginOperator, view.ConsoleOpenID)
	}
	events, err := h.store.OrgEvents(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Step == "login_url" && e.Code == "onboard.LoginOperatorInUse" && e.From == onboard.StateQueued {
			found = true
		}
	}
	if !found {
		t.Errorf("no event explains the withheld console link: %+v", events)
	}

	// A task whose attempt is not the work's current one (a stray, say
	// from Redis shared with another database) does nothing. (An older
	// attempt's TaskID is still taken by its finished task.)
	var old onboard.Work
	ws, err := h.store.DueWork(ctx, appID, 10)
	if err != nil || len(ws) != 1 || ws[0].Kind != onboard.WorkPoll {
		t.Fatalf("work while waiting: %+v, %v; want the polling round alone", ws, err)
	}
	old = ws[0]
	old.Attempt += 100
	q := &jobs.Queue{Client: h.client, Prefix: h.prefix}
	if err := q.PutWork(ctx, []onboard.Work{old}); err != nil {
		t.Fatal(err)
	}
	in := inspector(t, h)
	var info *asynq.TaskInfo
	testenv.WaitFor(t, 60*time.Second, "the outdated task to run", func() bool {
		info, err = in.GetTaskInfo(h.prefix+jobs.QueueAuth, jobs.WorkTaskID(old))
		return err == nil && info.State == asynq.TaskStateCompleted
	})
	if !strings.Contains(string(info.Result), "moved on") {
		t.Errorf("outdated task's result %s", info.Result)
	}
	if v, _ := h.sim.Org(appID, d.OpenID); v.Syncs != 2 {
		t.Errorf("the platform has %d syncs, want 2", v.Syncs)
	}

	// The company verifies; the new version's services are opened.
	if err := h.sim.SetStatus(appID, d.OpenID, ess.StatusVerified); err != nil {
		t.Fatal(err)
	}
	counts := h.waitFinal(batch2, 60*time.Second)
	if counts[onboard.StateDone] != 1 {
		t.Errorf("states %v, want done", counts)
	}
}

// TestOpenServiceIsNotAskedForAgain: new data for a company whose admin
// opened its services starts again from sync, and once verified again the
// services the platform says are open are recorded open without another
// ModifyExtendedService.
func TestOpenServiceIsNotAskedForAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, esssim.Options{})
	h.startWorker(workerOpts{})
	d := benchrate.Org("again", 1, []onboard.ServiceType{autoSign, mobileChk}, false)
	batch := h.importOrgs([]onboard.OrgData{d})
	if c := h.waitFinal(batch, 60*time.Second); c[onboard.StateDone] != 1 {
		t.Fatalf("first version: %v, want done", c)
	}
	modify := h.sim.Stats().OrgCalls[ess.ActionModifyExtendedService][appID+"/"+d.OpenID]
	if modify != 2 {
		t.Fatalf("%d ModifyExtendedService calls for two services, want 2", modify)
	}
	d2 := d
	d2.Address = "广东省 广州市 天河区 体育西路9号"
	batch2 := h.importOrgs([]onboard.OrgData{d2})
	if c := h.waitFinal(batch2, 60*time.Second); c[onboard.StateDone] != 1 {
		t.Fatalf("second version: %v, want done", c)
	}
	if got := h.sim.Stats().OrgCalls[ess.ActionModifyExtendedService][appID+"/"+d.OpenID]; got != modify {
		t.Errorf("%d more ModifyExtendedService calls for services already open, want none", got-modify)
	}
	for _, s := range h.org(d.OpenID).Services {
		if s.State != onboard.ServiceOpened {
			t.Errorf("%s: %s, want opened", s.Service, s.State)
		}
	}
}
