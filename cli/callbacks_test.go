package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/web"
)

// TestServeCallbacks: 'serve' receives the platform's callbacks without
// dashboard credentials (every other path still needs them); probes get
// 200, a forged signature 401, an unreadable body 400. With the simulator
// sending its callbacks encrypted and signed, 30% of them dropped, 30% sent
// twice and 30% delayed out of order, every company still finishes, each
// callback is recorded once per MsgId, and callbacks made checks due.
func TestServeCallbacks(t *testing.T) {
	t.Parallel()
	e, url, token := startCallbackServe(t, &esssim.Callbacks{DropShare: 0.3, DuplicateShare: 0.3, DelayShare: 0.3, MaxDelay: 500 * time.Millisecond})
	post := func(body []byte, sig string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url+web.CallbackPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(esscallback.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(nil, ""); code != http.StatusOK {
		t.Errorf("empty probe: %d, want 200", code)
	}
	if code := post([]byte(`{}`), ""); code != http.StatusOK {
		t.Errorf("{} probe: %d, want 200", code)
	}
	forged := []byte(`{"encrypt":"AAAAAAAAAAAAAAAAAAAAAA=="}`)
	if code := post(forged, esscallback.Signature("another-token", forged)); code != http.StatusUnauthorized {
		t.Errorf("forged signature: %d, want 401", code)
	}
	bad := []byte(`{"encrypt":"not base64!"}`)
	if code := post(bad, esscallback.Signature(token, bad)); code != http.StatusBadRequest {
		t.Errorf("unreadable body: %d, want 400", code)
	}
	dash, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	dash.Body.Close()
	if dash.StatusCode != http.StatusUnauthorized {
		t.Errorf("the dashboard without credentials: %v, want 401", dash.StatusCode)
	}

	const n = 12
	e.importFile(t, n)
	// While callbacks arrive, polling slows to a round every 2 seconds: the
	// companies whose callbacks were dropped are still found.
	e.startWorkersWith(t, func(c *jobs.Config) { c.PollWithCallbacks = 2 * time.Second })
	testenv.WaitFor(t, 2*time.Minute, "every company done", func() bool { return e.stateCount(t, onboard.StateDone) == n })
	// Let the delayed and duplicated callbacks arrive.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.sim.WaitCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	st := e.sim.Stats().Callbacks
	if st.Dropped == 0 || st.Duplicated == 0 || st.Delivered == 0 {
		t.Fatalf("the simulator's callbacks: %+v; want some dropped, duplicated and delivered", st)
	}
	rows := e.query(t, `SELECT count(*) FROM callbacks`)
	if distinct := e.query(t, `SELECT count(DISTINCT msg_id) FROM callbacks`); rows != distinct {
		t.Errorf("%d callbacks recorded for %d MsgIds", rows, distinct)
	}
	if rows < st.Delivered-st.Duplicated || rows > st.Delivered {
		t.Errorf("%d callbacks recorded; the simulator delivered %d, %d of them duplicates", rows, st.Delivered, st.Duplicated)
	}
	if due := e.query(t, `SELECT count(*) FROM callbacks WHERE verdict IN ('check_due', 'verify_due')`); due == 0 {
		t.Errorf("no callback made a check due")
	}
	if got := e.stateCount(t, onboard.StateDone); got != n {
		t.Errorf("after every callback: %d done, want %d (duplicates and late ones change nothing)", got, n)
	}
	r, err := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer dashboard-secret")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	// The batch page lists the latest callbacks and what was made of them.
	pr, _ := http.NewRequest(http.MethodGet, url+"/batches/1", nil)
	pr.Header.Set("Authorization", "Bearer dashboard-secret")
	presp, err := http.DefaultClient.Do(pr)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	page.ReadFrom(presp.Body)
	presp.Body.Close()
	if !strings.Contains(page.String(), "Latest callbacks from the platform") || !strings.Contains(page.String(), "_due") {
		t.Errorf("the batch page does not list the callbacks")
	}
	for _, want := range []string{`onboard_callbacks_total{type="",verdict="bad_signature"} 1`, `onboard_callbacks_total{type="",verdict="probe"} 2`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// startCallbackServe starts a simulator whose callbacks (cb: drop,
// duplicate and delay shares) go to a 'serve' with a callback key and token
// and dashboard credentials, and returns its environment, URL and token.
func startCallbackServe(t *testing.T, cb *esssim.Callbacks) (*recEnv, string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	key, token := strings.Repeat("k", 32), "callback-token"
	cb.URL, cb.Key, cb.Token = url+web.CallbackPath, key, token
	e := newRecEnv(t, esssim.Options{
		Admins:    &esssim.Admins{OpenAfter: 500 * time.Millisecond},
		Lifecycle: &esssim.Lifecycle{Unverified: 300 * time.Millisecond, Verifying: 300 * time.Millisecond, Pending: 300 * time.Millisecond},
		Callbacks: cb,
	})
	e.vars["ESS_CALLBACK_KEY"], e.vars["ESS_CALLBACK_TOKEN"] = key, token
	e.vars["ONBOARD_DASHBOARD_TOKEN"] = "dashboard-secret"
	cfg, err := loadConfig(func(k string) string { return e.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDashboard(context.Background(), cfg, serveFlags{addr: ln.Addr().String(), maxUpload: 1 << 20, shared: shared{queuePrefix: e.prefix}}, recQuietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	hs := &http.Server{Handler: d.server.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { hs.Close() })

	return e, url, token
}

// TestCallbacksAloneMoveTheBatch: with polling too slow to matter, every
// verification and service opening is learned from a callback, at the cost
// of at most one status call per callback.
func TestCallbacksAloneMoveTheBatch(t *testing.T) {
	// Not parallel: with polling off, a verification callback that arrives
	// before the sync's outcome is recorded waits for a polling round, and
	// the other tests' load makes that likelier.
	e, _, _ := startCallbackServe(t, &esssim.Callbacks{})
	const n = 8
	e.importFile(t, n)
	e.startWorkersWith(t, func(c *jobs.Config) {
		c.PollMin, c.PollMax, c.PollWithCallbacks = time.Hour, time.Hour, time.Hour
	})
	testenv.WaitFor(t, 2*time.Minute, "every company done", func() bool { return e.stateCount(t, onboard.StateDone) == n })
	if rounds := e.query(t, `SELECT count(*) FROM auth_poll_rounds`); rounds != 0 {
		t.Errorf("%d polling rounds ran; every company should have been learned from callbacks", rounds)
	}
	st := e.sim.Stats()
	calls := st.Total(ess.ActionDescribeChannelOrganizations, "Success") + st.Total(ess.ActionDescribeExtendedServiceAuthInfo, "Success")
	triggers := e.query(t, `SELECT count(*) FROM callbacks WHERE verdict IN ('check_due', 'verify_due')`)
	if calls == 0 || calls > triggers {
		t.Errorf("%d status calls for %d callbacks that made a check due, want at most one each", calls, triggers)
	}
	t.Logf("%d status calls for %d callbacks that made a check due", calls, triggers)
	// Every verification came from a callback: the workers counted the time
	// from the platform's events (those that carry a time) to the
	// company's next state.
	if m := e.workers.Metrics().Snapshot(); m.EventToStateCount == 0 || m.EventToStateCount > n {
		t.Errorf("event-to-state times counted for %d companies, want 1 to %d", m.EventToStateCount, n)
	} else {
		t.Logf("event to next state: %d companies, mean %.2fs", m.EventToStateCount, m.EventToStateSum/float64(m.EventToStateCount))
	}
}
