package esssim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/esscallback"
)

const (
	cbKey   = "simulator-callback-key-32-bytes!"
	cbToken = "simulator-callback-token"
)

// receiver is a callback endpoint as a project server would write it with
// package esscallback: probes answered 200, bad signatures 401, bodies that
// do not decode 400, messages recorded, then answered by answer (200 when
// nil) given the number of times their MsgId arrived.
type receiver struct {
	codec *esscallback.Codec

	mu       sync.Mutex
	answer   func(m *esscallback.Message, arrival int) int
	arrivals []*esscallback.Message // every decoded message, in arrival order
	times    map[string]int         // arrivals per MsgId
	rejected map[int]int            // refusals per status
	probes   int
}

func newReceiver(t *testing.T, key, token string) (*receiver, *httptest.Server) {
	t.Helper()
	c, err := esscallback.New(key, token)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{codec: c, times: map[string]int{}, rejected: map[int]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.rejected[http.StatusMethodNotAllowed]++
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if esscallback.IsProbe(body) {
		r.probes++
		return
	}
	m, err := r.codec.Decode(body, req.Header.Get(esscallback.SignatureHeader))
	if err != nil {
		status := esscallback.HTTPStatus(err)
		r.rejected[status]++
		w.WriteHeader(status)
		return
	}
	r.times[m.MsgId]++
	r.arrivals = append(r.arrivals, m)
	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(m, r.times[m.MsgId])
	}
	w.WriteHeader(status)
}

// messages returns the decoded arrivals so far.
func (r *receiver) messages() []*esscallback.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*esscallback.Message(nil), r.arrivals...)
}

// byOrg returns the MsgTypes that arrived for each company, first arrivals
// of each MsgId only, sorted.
func (r *receiver) byOrg() map[string][]string {
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, m := range r.messages() {
		if seen[m.MsgId] {
			continue
		}
		seen[m.MsgId] = true
		out[m.ProxyOrganizationOpenId] = append(out[m.ProxyOrganizationOpenId], m.MsgType)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func waitCallbacks(t *testing.T, sim *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.WaitCallbacks(ctx); err != nil {
		t.Fatalf("callbacks still in flight: %v (%+v)", err, sim.Stats().Callbacks)
	}
}

// checkBalance checks the invariant of CallbackStats.
func checkBalance(t *testing.T, st CallbackStats) {
	t.Helper()
	events := 0
	for _, n := range st.Events {
		events += n
	}
	if events-st.Dropped+st.Duplicated != st.Delivered+st.Failed+st.Abandoned+st.InFlight {
		t.Errorf("counters do not balance: %+v", st)
	}
}

// authorizationType asks the simulator (as the query identity) how a
// company verified.
func authorizationType(t *testing.T, sim *Server, clock *fakeClock, org string) string {
	t.Helper()
	code, resp := send(t, sim, clock, ActionDescribeChannelOrganizations, map[string]any{
		"Agent": agentJSON(DefaultAppID, DefaultQueryOrgOpenID, DefaultQueryOperatorOpenID), "Limit": 1, "OrganizationOpenId": org})
	var infos []struct{ AuthorizationType string }
	if err := json.Unmarshal(resp["ChannelOrganizationInfos"], &infos); code != "" || err != nil || len(infos) != 1 {
		t.Fatalf("describe %s: %s %v", org, code, err)
	}
	return infos[0].AuthorizationType
}

func TestCallbacksOfOnboarding(t *testing.T) {
	t.Parallel()
	rec, srv := newReceiver(t, cbKey, cbToken)
	clock := newClock()
	step := 10 * time.Second
	sim := New(Options{Now: clock.Now, RateLimit: -1,
		Lifecycle: &Lifecycle{Unverified: step, Verifying: step, Pending: step},
		Admins:    &Admins{OpenAfter: time.Minute},
		Callbacks: &Callbacks{URL: srv.URL + "/callbacks/essbasic", Key: cbKey, Token: cbToken, Scan: time.Hour}})
	t.Cleanup(func() { _ = sim.Close() })

	orgs := []string{"a", "b", "c", "d", "e", "f"}
	for _, o := range orgs {
		body := syncBody(o)
		body["UniformSocialCreditCode"] = "91350100M000100Y43"
		body["ProxyLegalName"] = "张三"
		send(t, sim, clock, ActionSyncProxyOrganization, body)
		send(t, sim, clock, ActionCreateConsoleLoginUrl, map[string]any{
			"Agent": agentJSON(DefaultAppID, o, "boss-"+o), "ProxyOrganizationName": "测试企业（" + o + "）"})
	}
	sim.Orgs(DefaultAppID) // nothing moved yet
	waitCallbacks(t, sim)
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("%d callbacks before anything moved", n)
	}
	// Each step is noticed by an admin read (the scan is an hour apart).
	for range 3 {
		clock.Add(step)
		sim.Orgs(DefaultAppID)
	}
	waitCallbacks(t, sim)

	got := rec.byOrg()
	if _, ok := got[DefaultQueryOrgOpenID]; ok {
		t.Errorf("the query identity sent callbacks: %v", got[DefaultQueryOrgOpenID])
	}
	for _, o := range orgs {
		want := "OrgAuth OrgOpenTsignBiz"
		if authorizationType(t, sim, clock, o) == "AuthorizationFile" {
			want = "OrgAuth OrgCertify OrgOpenTsignBiz"
		}
		if strings.Join(got[o], " ") != want {
			t.Errorf("company %s: callbacks %v, want %s", o, got[o], want)
		}
	}
	for _, m := range rec.messages() {
		if m.ApplicationId != DefaultAppID || m.MsgVersion != esscallback.MsgVersion || m.MsgId == "" {
			t.Errorf("message %+v", m)
		}
		switch ev := m.Event.(type) {
		case *esscallback.OrgAuth:
			if !ev.AuthSuccess || ev.ProxyOperatorOpenId != "boss-"+m.ProxyOrganizationOpenId {
				t.Errorf("OrgAuth %+v", ev)
			}
		case *esscallback.OrgCertify:
			if !ev.OperateSuccess || m.Time.Unix() != clock.Now().Unix() {
				t.Errorf("OrgCertify %+v at %v, want success now", ev, m.Time)
			}
		case *esscallback.OrgOpenTsignBiz:
			if !ev.OpenSuccess || ev.ProxyOperatorOpenId != "boss-"+m.ProxyOrganizationOpenId || ev.USCC != "91350100M000100Y43" ||
				ev.LegalName != "张三" || ev.OrganizationName != "测试企业（"+m.ProxyOrganizationOpenId+"）" || len(ev.ProxyAppId) != 32 {
				t.Errorf("OrgOpenTsignBiz %+v", ev)
			}
		default:
			t.Errorf("unexpected event %T", ev)
		}
	}

	// A rejected letter of authorisation.
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("rejected"))
	if err := sim.SetStatus(DefaultAppID, "rejected", StatusVerifyingFileRejected); err != nil {
		t.Fatal(err)
	}
	// An admin follows a service link a minute after it was issued; a
	// service without a link, opened by the channel itself, sends nothing.
	if _, link := modifyService(t, sim, clock, "a", "boss-a", "AUTO_SIGN", "OPEN"); link == "" {
		t.Fatal("no link")
	}
	modifyService(t, sim, clock, "a", "boss-a", "PAGING_SEAL", "OPEN")
	issued := clock.Now()
	clock.Add(2 * time.Minute)
	sim.Orgs(DefaultAppID)
	waitCallbacks(t, sim)
	got = rec.byOrg()
	if strings.Join(got["rejected"], " ") != "OrgAuth OrgCertify" {
		t.Errorf("rejected company: %v", got["rejected"])
	}
	var service *esscallback.OperateExtendedService
	for _, m := range rec.messages() {
		switch ev := m.Event.(type) {
		case *esscallback.OrgCertify:
			if m.ProxyOrganizationOpenId == "rejected" && (ev.OperateSuccess || ev.CertifyReason == "") {
				t.Errorf("rejection %+v", ev)
			}
		case *esscallback.OperateExtendedService:
			if service != nil {
				t.Errorf("a second service callback: %+v", ev)
			}
			service = ev
			if !m.Time.Equal(issued.Add(time.Minute)) {
				t.Errorf("service opened at %v, want %v", m.Time, issued.Add(time.Minute))
			}
		}
	}
	if service == nil || service.ServiceType != "AUTO_SIGN" || service.Operate != "OPEN" || !service.OperateSuccess ||
		service.ProxyOrganizationOpenId != "a" || service.ProxyOperatorOpenId != "boss-a" {
		t.Errorf("service callback %+v", service)
	}

	st := sim.Stats().Callbacks
	total := len(rec.messages())
	if st.Delivered != total || st.Sent != total || st.Failed != 0 || st.Dropped != 0 || st.InFlight != 0 ||
		st.Events[esscallback.TypeOperateExtendedService] != 1 || st.Events[esscallback.TypeOrgAuth] != len(orgs)+1 {
		t.Errorf("stats %+v with %d delivered", st, total)
	}
	checkBalance(t, st)
	rec.mu.Lock()
	if len(rec.rejected) != 0 {
		t.Errorf("the receiver refused callbacks: %v", rec.rejected)
	}
	rec.mu.Unlock()
}

func TestCallbacksByHandAndPlain(t *testing.T) {
	t.Parallel()
	// No key and no token: plain envelopes, unsigned.
	rec, srv := newReceiver(t, "", "")
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}, Callbacks: &Callbacks{URL: srv.URL, Scan: time.Hour}})
	t.Cleanup(func() { _ = sim.Close() })
	verifiedOrg(t, sim, clock, "o", "boss")
	if err := sim.SetService(DefaultAppID, "o", "OVERSEA_SIGN", ServiceEnable); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetService(DefaultAppID, "o", "OVERSEA_SIGN", ServiceEnable); err != nil { // no change, no callback
		t.Fatal(err)
	}
	if err := sim.SetService(DefaultAppID, "o", "OVERSEA_SIGN", ServiceDisable); err != nil {
		t.Fatal(err)
	}
	modifyService(t, sim, clock, "o", "boss", "DOWNLOAD_FLOW", "OPEN")
	if err := sim.ConfirmService(DefaultAppID, "o", "DOWNLOAD_FLOW"); err != nil {
		t.Fatal(err)
	}
	// Set back to automatic (restarted, UNVERIFIED): verifying again later
	// sends OrgAuth again.
	if err := sim.SetStatus(DefaultAppID, "o", ""); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetStatus(DefaultAppID, "o", StatusVerifying); err != nil {
		t.Fatal(err)
	}
	waitCallbacks(t, sim)
	var ops []string
	for _, m := range rec.messages() {
		switch ev := m.Event.(type) {
		case *esscallback.OperateExtendedService:
			ops = append(ops, ev.ServiceType+" "+ev.Operate)
		}
	}
	sort.Strings(ops)
	if strings.Join(ops, ", ") != "DOWNLOAD_FLOW OPEN, OVERSEA_SIGN CLOSE, OVERSEA_SIGN OPEN" {
		t.Errorf("service callbacks: %v", ops)
	}
	if got := sim.Stats().Callbacks.Events[esscallback.TypeOrgAuth]; got != 2 {
		t.Errorf("OrgAuth sent %d times, want 2 (verified, then verifying again)", got)
	}
}

func TestCallbackRetries(t *testing.T) {
	t.Parallel()
	clock := newClock()
	run := func(t *testing.T, answer func(*esscallback.Message, int) int, attempts int) (*receiver, CallbackStats) {
		rec, srv := newReceiver(t, cbKey, cbToken)
		rec.answer = answer
		sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true},
			Callbacks: &Callbacks{URL: srv.URL, Key: cbKey, Token: cbToken, Attempts: attempts, RetryWait: time.Millisecond, Scan: time.Hour}})
		t.Cleanup(func() { _ = sim.Close() })
		for _, o := range []string{"a", "b", "c"} {
			send(t, sim, clock, ActionSyncProxyOrganization, syncBody(o))
			if err := sim.SetStatus(DefaultAppID, o, StatusVerifyingLegalPending); err != nil { // OrgAuth only
				t.Fatal(err)
			}
		}
		waitCallbacks(t, sim)
		st := sim.Stats().Callbacks
		checkBalance(t, st)
		return rec, st
	}

	t.Run("answered after two refusals", func(t *testing.T) {
		rec, st := run(t, func(_ *esscallback.Message, n int) int {
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, 5)
		if st.Sent != 9 || st.Retried != 6 || st.Delivered != 3 || st.Failed != 0 {
			t.Errorf("stats %+v, want 9 sent, 6 resends, 3 delivered", st)
		}
		// A resend is the same message.
		for id, n := range rec.times {
			if n != 3 {
				t.Errorf("MsgId %s arrived %d times, want 3", id, n)
			}
		}
	})
	t.Run("never answered 200", func(t *testing.T) {
		_, st := run(t, func(*esscallback.Message, int) int { return http.StatusAccepted }, 3)
		if st.Sent != 9 || st.Retried != 6 || st.Delivered != 0 || st.Failed != 3 {
			t.Errorf("stats %+v, want 9 sent and 3 failed (202 is not 200)", st)
		}
	})
	t.Run("nobody listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true},
			Callbacks: &Callbacks{URL: url, Attempts: 2, RetryWait: time.Millisecond, Scan: time.Hour}})
		t.Cleanup(func() { _ = sim.Close() })
		send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
		_ = sim.SetStatus(DefaultAppID, "o", StatusVerifying)
		waitCallbacks(t, sim)
		if st := sim.Stats().Callbacks; st.Sent != 2 || st.Failed != 1 {
			t.Errorf("stats %+v, want 2 attempts and a failure", st)
		}
	})
	t.Run("a receiver with another token", func(t *testing.T) {
		rec, srv := newReceiver(t, cbKey, "another token")
		sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true},
			Callbacks: &Callbacks{URL: srv.URL, Key: cbKey, Token: cbToken, Attempts: 1, Scan: time.Hour}})
		t.Cleanup(func() { _ = sim.Close() })
		send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
		_ = sim.SetStatus(DefaultAppID, "o", StatusVerifying)
		waitCallbacks(t, sim)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.rejected[http.StatusUnauthorized] != 1 || len(rec.arrivals) != 0 || sim.Stats().Callbacks.Failed != 1 {
			t.Errorf("refusals %v, arrivals %d, stats %+v", rec.rejected, len(rec.arrivals), sim.Stats().Callbacks)
		}
	})
}

// TestCallbacksUnreliable sends the callbacks of many companies with shares
// dropped, duplicated and delayed, to a receiver that verifies and decodes
// them with package esscallback, and checks what arrived against the
// simulator's counters.
func TestCallbacksUnreliable(t *testing.T) {
	t.Parallel()
	rec, srv := newReceiver(t, cbKey, cbToken)
	clock := newClock()
	sim := New(Options{Now: clock.Now, RateLimit: -1, Seed: 11, Lifecycle: &Lifecycle{}, // verified at once
		Callbacks: &Callbacks{URL: srv.URL, Key: cbKey, Token: cbToken, Scan: time.Hour,
			DropShare: 0.2, DuplicateShare: 0.3, DelayShare: 0.5, MaxDelay: 200 * time.Millisecond}})
	t.Cleanup(func() { _ = sim.Close() })
	const n = 100
	for i := range n {
		o := fmt.Sprint("org-", i)
		send(t, sim, clock, ActionSyncProxyOrganization, syncBody(o))
		sim.Org(DefaultAppID, o) // noticed VERIFIED: OrgAuth, maybe OrgCertify, OrgOpenTsignBiz
	}
	waitCallbacks(t, sim)
	st := sim.Stats().Callbacks
	checkBalance(t, st)

	events := 0
	for _, k := range st.Events {
		events += k
	}
	msgs := rec.messages()
	twice := 0
	for _, k := range rec.times {
		if k > 2 {
			t.Errorf("a MsgId arrived %d times", k)
		}
		if k == 2 {
			twice++
		}
	}
	if st.Events[esscallback.TypeOrgAuth] != n || st.Events[esscallback.TypeOrgOpenTsignBiz] != n {
		t.Errorf("events %v, want %d OrgAuth and OrgOpenTsignBiz", st.Events, n)
	}
	if len(msgs) != st.Delivered || st.Failed != 0 || st.InFlight != 0 || st.Sent != st.Delivered {
		t.Errorf("%d arrivals; stats %+v", len(msgs), st)
	}
	if len(rec.times) != events-st.Dropped || twice != st.Duplicated || len(msgs) != events-st.Dropped+st.Duplicated {
		t.Errorf("%d distinct MsgIds, %d twice, %d arrivals; stats %+v", len(rec.times), twice, len(msgs), st)
	}
	// The shares are drawn from a seeded source; allow for their spread.
	share := func(got, of int, want float64) bool {
		return float64(got) > want*float64(of)*0.6 && float64(got) < want*float64(of)*1.4
	}
	if !share(st.Dropped, events, 0.2) || !share(st.Duplicated, events-st.Dropped, 0.3) ||
		!share(st.Delayed, events-st.Dropped+st.Duplicated, 0.5) {
		t.Errorf("of %d events: %d dropped, %d duplicated, %d delayed; want about 20%%, 30%% and 50%%",
			events, st.Dropped, st.Duplicated, st.Delayed)
	}
	// Out of order: for some company, OrgOpenTsignBiz arrived before the
	// OrgAuth that the simulator generated first (deliveries run in
	// parallel; the delays make this all but certain).
	first := map[string]map[string]int{}
	for i, m := range msgs {
		if first[m.ProxyOrganizationOpenId] == nil {
			first[m.ProxyOrganizationOpenId] = map[string]int{}
		}
		if _, ok := first[m.ProxyOrganizationOpenId][m.MsgType]; !ok {
			first[m.ProxyOrganizationOpenId][m.MsgType] = i
		}
	}
	reordered := 0
	for _, f := range first {
		auth, ok1 := f[esscallback.TypeOrgAuth]
		open, ok2 := f[esscallback.TypeOrgOpenTsignBiz]
		if ok1 && ok2 && open < auth {
			reordered++
		}
	}
	if reordered == 0 {
		t.Error("no company's callbacks arrived out of order")
	}
}

func TestCallbacksByScan(t *testing.T) {
	t.Parallel()
	rec, srv := newReceiver(t, cbKey, cbToken)
	// Real time: the company verifies on its schedule with nobody calling,
	// and the scan notices.
	sim := New(Options{Lifecycle: &Lifecycle{Unverified: time.Millisecond, Verifying: time.Millisecond, Pending: time.Millisecond},
		Callbacks: &Callbacks{URL: srv.URL, Key: cbKey, Token: cbToken, Scan: 10 * time.Millisecond}})
	t.Cleanup(func() { _ = sim.Close() })
	clock := &fakeClock{t: time.Now()}
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
	deadline := time.Now().Add(30 * time.Second)
	for len(rec.byOrg()["o"]) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("callbacks after 30s: %v (%+v)", rec.byOrg(), sim.Stats().Callbacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := rec.byOrg()["o"]
	if got[0] != esscallback.TypeOrgAuth || got[len(got)-1] != esscallback.TypeOrgOpenTsignBiz {
		t.Errorf("callbacks %v", got)
	}
}

func TestCallbacksClose(t *testing.T) {
	t.Parallel()
	rec, srv := newReceiver(t, cbKey, cbToken)
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true},
		Callbacks: &Callbacks{URL: srv.URL, Key: cbKey, Token: cbToken, DelayShare: 1, MaxDelay: time.Hour, Scan: time.Hour}})
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
	_ = sim.SetStatus(DefaultAppID, "o", StatusVerifying)
	if st := sim.Stats().Callbacks; st.InFlight != 1 || st.Delayed != 1 {
		t.Fatalf("stats %+v, want one delayed delivery in flight", st)
	}
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	st := sim.Stats().Callbacks
	if st.InFlight != 0 || st.Abandoned != 1 || len(rec.messages()) != 0 {
		t.Errorf("after Close: %+v, %d arrivals", st, len(rec.messages()))
	}
	checkBalance(t, st)
	// Events after Close are not sent; the API still answers.
	if err := sim.SetStatus(DefaultAppID, "o", StatusVerified); err != nil {
		t.Fatal(err)
	}
	if code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody("p")); code != "" {
		t.Errorf("sync after Close: %s", code)
	}
	st = sim.Stats().Callbacks
	if st.Events[esscallback.TypeOrgOpenTsignBiz] != 1 || st.Abandoned != st.Events[esscallback.TypeOrgAuth]+
		st.Events[esscallback.TypeOrgCertify]+st.Events[esscallback.TypeOrgOpenTsignBiz] || st.InFlight != 0 || len(rec.messages()) != 0 {
		t.Errorf("events after Close: %+v, %d arrivals; want every one abandoned", st, len(rec.messages()))
	}
	checkBalance(t, st)
	_ = sim.Close() // twice is fine
}

func TestCallbacksValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cb   Callbacks
		want string
	}{
		{Callbacks{URL: "http://127.0.0.1:1/cb", Key: "short"}, "exactly 32 bytes"},
		{Callbacks{URL: "ftp://x/cb"}, "URL"},
		{Callbacks{URL: "127.0.0.1:8080/cb"}, "URL"},
		{Callbacks{Key: cbKey}, "without a URL"},
		{Callbacks{URL: "http://x", DropShare: 1.5}, "drop share"},
		{Callbacks{URL: "http://x", DelayShare: -0.1}, "delay share"},
		{Callbacks{URL: "http://x", Attempts: -1}, "negative"},
	} {
		if err := tt.cb.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error mentioning %q", tt.cb, err, tt.want)
		}
	}
	if err := (Callbacks{URL: "https://example.test/cb", Key: cbKey, Token: "t", DropShare: 1}).Validate(); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New accepted a short key")
		}
	}()
	New(Options{Callbacks: &Callbacks{URL: "http://127.0.0.1:1/", Key: "short"}})
}
