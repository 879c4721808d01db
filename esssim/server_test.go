package esssim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock near real time (the signature check allows
// 5 minutes of skew).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1760000000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// send makes one signed call; it returns the error code ("" on success) and
// the Response object.
func send(t *testing.T, sim *Server, clock *fakeClock, action string, body any) (string, map[string]json.RawMessage) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, rawRequest{action: action, body: string(b), at: clock.Now()}.build())
	env := decodeEnvelope(t, w)
	return errorCode(t, w), env.Response
}

func agentJSON(app, org, operator string) map[string]any {
	a := map[string]any{"AppId": app, "ProxyOrganizationOpenId": org}
	if operator != "" {
		a["ProxyOperator"] = map[string]any{"OpenId": operator}
	}
	return a
}

func syncBody(org string) map[string]any {
	return map[string]any{"Agent": agentJSON(DefaultAppID, org, ""), "ProxyOrganizationName": "测试企业（" + org + "）"}
}

func TestRateLimitBurst(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now})
	codes := map[string]int{}
	for i := range 25 {
		code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint("org-", i)))
		codes[code]++
	}
	if codes[""] != 20 || codes["RequestLimitExceeded"] != 5 {
		t.Fatalf("answers of a burst of 25 in one instant: %v, want 20 successes and 5 RequestLimitExceeded", codes)
	}
	// Another action has its own budget.
	if code, _ := send(t, sim, clock, ActionCreateConsoleLoginUrl, map[string]any{
		"Agent": agentJSON(DefaultAppID, "org-1", "op-1"), "ProxyOrganizationName": "测试企业（org-1）"}); code != "" {
		t.Errorf("CreateConsoleLoginUrl after a Sync burst: %s", code)
	}
	st := sim.Stats()
	if st.RateLimited[ActionSyncProxyOrganization] != 5 || st.Total(ActionSyncProxyOrganization, "RequestLimitExceeded") != 5 {
		t.Errorf("counters: rate_limited %v, calls %v; want 5 rejections", st.RateLimited, st.Calls)
	}
	if st.OrgCalls[ActionSyncProxyOrganization][DefaultAppID+"/org-24"] != 1 || st.Syncs[DefaultAppID+"/org-24"] != 0 {
		t.Errorf("a rejected call: org_calls %v, syncs %v; want it counted as a call, not a sync",
			st.OrgCalls[ActionSyncProxyOrganization][DefaultAppID+"/org-24"], st.Syncs[DefaultAppID+"/org-24"])
	}
	if st.MaxInWindow[ActionSyncProxyOrganization] != 25 {
		t.Errorf("max in window = %d, want 25", st.MaxInWindow[ActionSyncProxyOrganization])
	}
	// A second later the window has room again.
	clock.Add(time.Second)
	if code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody("late")); code != "" {
		t.Errorf("after a second: %s", code)
	}
}

func TestRateLimitMessage(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, RateLimit: 1})
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("a"))
	b, _ := json.Marshal(syncBody("b"))
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, rawRequest{action: ActionSyncProxyOrganization, body: string(b), at: clock.Now(),
		mutate: func(r *http.Request) { r.Header.Set("X-TC-Language", "en-US") }}.build())
	var env struct {
		Response struct {
			Error struct{ Code, Message string }
		}
	}
	_ = json.Unmarshal(w.Body.Bytes(), &env)
	want := "Your current request times equals to `2` in a second, which exceeds the frequency limit `1` for a second. Please reduce the frequency of calls."
	if env.Response.Error.Code != "RequestLimitExceeded" || env.Response.Error.Message != want {
		t.Errorf("got %+v, want RequestLimitExceeded %q", env.Response.Error, want)
	}
}

func TestRateLimitPaced(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now})
	for i := range 200 { // ten seconds at exactly 20 a second
		if code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint("org-", i))); code != "" {
			t.Fatalf("call %d at %s: %s", i, clock.Now().Format(time.StampMilli), code)
		}
		clock.Add(50 * time.Millisecond)
	}
	st := sim.Stats()
	if st.RateLimited[ActionSyncProxyOrganization] != 0 || st.MaxInWindow[ActionSyncProxyOrganization] != 20 {
		t.Errorf("paced at the limit: rate_limited %v, max in window %v; want 0 and 20", st.RateLimited, st.MaxInWindow)
	}
}

func TestRateLimitKeys(t *testing.T) {
	t.Parallel()
	clock := newClock()
	for _, tt := range []struct {
		key      RateKey
		rejected int
	}{{RateKeySecretID, 1}, {RateKeyAppID, 0}} {
		sim := New(Options{Now: clock.Now, RateLimit: 2, RateKey: tt.key, Apps: []App{{AppID: "a1"}, {AppID: "a2"}}})
		for _, app := range []string{"a1", "a2", "a1"} {
			send(t, sim, clock, ActionSyncProxyOrganization, map[string]any{"Agent": agentJSON(app, "o", ""), "ProxyOrganizationName": "企业"})
		}
		if got := sim.Stats().RateLimited[ActionSyncProxyOrganization]; got != tt.rejected {
			t.Errorf("rate key %s: %d rejected, want %d", tt.key, got, tt.rejected)
		}
	}
	sim := New(Options{Now: clock.Now, RateLimit: -1})
	for i := range 100 {
		if code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint(i))); code != "" {
			t.Fatalf("no limit: call %d got %s", i, code)
		}
	}
}

func status(t *testing.T, sim *Server, org string) string {
	t.Helper()
	v, ok := sim.Org(DefaultAppID, org)
	if !ok {
		t.Fatalf("no company %s", org)
	}
	return v.AuthorizationStatus
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Unverified: 10 * time.Second, Verifying: 10 * time.Second, Pending: 10 * time.Second}})
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
	seen := []string{status(t, sim, "o")}
	for range 4 {
		clock.Add(10 * time.Second)
		seen = append(seen, status(t, sim, "o"))
	}
	got := strings.Join(seen, " ")
	legal := "UNVERIFIED VERIFYING VERIFYINGLEGALPENDINGAUTHORIZATION VERIFIED VERIFIED"
	letter := "UNVERIFIED VERIFYING VERIFYINGAUTHORIZATIONFILEPENDING VERIFIED VERIFIED"
	if got != legal && got != letter {
		t.Fatalf("statuses every 10s: %s", got)
	}
	v, _ := sim.Org(DefaultAppID, "o")
	if v.AdminOpenID == "" || v.LegalOpenID == "" || v.AdminOpenID == v.LegalOpenID {
		t.Errorf("verified company without distinct admin and legal OpenIds: %+v", v)
	}
	// A re-sync does not move it back.
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
	if st := status(t, sim, "o"); st != StatusVerified {
		t.Errorf("after re-sync: %s", st)
	}
	if n := sim.Stats().Syncs[DefaultAppID+"/o"]; n != 2 {
		t.Errorf("sync count %d, want 2", n)
	}
}

func TestLifecycleShares(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, RateLimit: -1, Lifecycle: &Lifecycle{Pending: time.Second, NeverShare: 0.2, RejectShare: 0.3}})
	const n = 1000
	for i := range n {
		send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint("org-", i)))
	}
	clock.Add(time.Hour)
	count := map[string]int{}
	for i := range n {
		count[status(t, sim, fmt.Sprint("org-", i))]++
	}
	// The shares are decided by a hash; allow for its spread.
	within := func(got int, share float64) bool { return float64(got) > share*n*0.8 && float64(got) < share*n*1.2 }
	if !within(count[StatusUnverified], 0.2) || !within(count[StatusVerifyingFileRejected], 0.3) || !within(count[StatusVerified], 0.5) ||
		len(count) != 3 {
		t.Errorf("after an hour: %v, want about 200 UNVERIFIED, 300 rejected, 500 VERIFIED", count)
	}
	// Manual lifecycle: nobody moves.
	sim = New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("m"))
	clock.Add(24 * time.Hour)
	if st := status(t, sim, "m"); st != StatusUnverified {
		t.Errorf("manual lifecycle after a day: %s", st)
	}
}

func TestSetStatusAndConsoleAdmin(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	if err := sim.SetStatus(DefaultAppID, "o", StatusVerified); err == nil {
		t.Error("SetStatus of a company never synced succeeded")
	}
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
	code, resp := send(t, sim, clock, ActionCreateConsoleLoginUrl, map[string]any{
		"Agent": agentJSON(DefaultAppID, "o", "admin-7"), "ProxyOrganizationName": "测试企业（o）"})
	if code != "" {
		t.Fatalf("console link: %s", code)
	}
	var activated bool
	_ = json.Unmarshal(resp["IsActivated"], &activated)
	if activated {
		t.Error("IsActivated before verification")
	}
	if err := sim.SetStatus(DefaultAppID, "o", "SOMETHING"); err == nil {
		t.Error("SetStatus accepted an unknown status")
	}
	if err := sim.SetStatus(DefaultAppID, "o", StatusVerified); err != nil {
		t.Fatal(err)
	}
	v, _ := sim.Org(DefaultAppID, "o")
	if v.AuthorizationStatus != StatusVerified || v.AdminOpenID != "admin-7" || !v.SetByHand {
		t.Errorf("after SetStatus: %+v, want VERIFIED with admin-7 as admin", v)
	}
}

func TestConsoleLinkForAnotherEmployeeRestarts(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Unverified: 10 * time.Second, Verifying: 10 * time.Second, Pending: 10 * time.Second}})
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("o"))
	link := func(openID string) {
		if code, _ := send(t, sim, clock, ActionCreateConsoleLoginUrl, map[string]any{
			"Agent": agentJSON(DefaultAppID, "o", openID), "ProxyOrganizationName": "测试企业（o）"}); code != "" {
			t.Fatalf("console link: %s", code)
		}
	}
	link("first")
	clock.Add(15 * time.Second)
	link("first") // same employee: nothing restarts
	if st := status(t, sim, "o"); st != StatusVerifying {
		t.Fatalf("status %s, want VERIFYING", st)
	}
	link("second")
	if st := status(t, sim, "o"); st != StatusUnverified {
		t.Errorf("after a link for another employee: %s, want UNVERIFIED (restarted)", st)
	}
	clock.Add(40 * time.Second)
	if v, _ := sim.Org(DefaultAppID, "o"); v.AuthorizationStatus != StatusVerified || v.AdminOpenID != "second" {
		t.Errorf("finally: %s admin %q, want VERIFIED with admin second", v.AuthorizationStatus, v.AdminOpenID)
	}
}

func verifiedOrg(t *testing.T, sim *Server, clock *fakeClock, org, admin string) {
	t.Helper()
	if code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody(org)); code != "" {
		t.Fatalf("sync: %s", code)
	}
	if code, _ := send(t, sim, clock, ActionCreateConsoleLoginUrl, map[string]any{
		"Agent": agentJSON(DefaultAppID, org, admin), "ProxyOrganizationName": "测试企业（" + org + "）"}); code != "" {
		t.Fatalf("console link: %s", code)
	}
	if err := sim.SetStatus(DefaultAppID, org, StatusVerified); err != nil {
		t.Fatal(err)
	}
}

func TestModifyExtendedService(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	modify := func(org, operator, svc, op string) (string, string) {
		t.Helper()
		code, resp := send(t, sim, clock, ActionModifyExtendedService, map[string]any{
			"Agent": agentJSON(DefaultAppID, org, operator), "ServiceType": svc, "Operate": op})
		var u string
		_ = json.Unmarshal(resp["OperateUrl"], &u)
		return code, u
	}
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("unverified"))
	if code, _ := modify("unverified", "x", "AUTO_SIGN", "OPEN"); code != "OperationDenied" {
		t.Errorf("unverified company: %s, want OperationDenied", code)
	}
	verifiedOrg(t, sim, clock, "o", "boss")
	v, _ := sim.Org(DefaultAppID, "o")
	if code, _ := modify("o", "clerk", "AUTO_SIGN", "OPEN"); code != "OperationDenied" {
		t.Errorf("operator neither admin nor legal rep: %s, want OperationDenied", code)
	}
	for _, svc := range []string{"AUTO_SIGN", "DOWNLOAD_FLOW", "OVERSEA_SIGN"} {
		code, link := modify("o", "boss", svc, "OPEN")
		if code != "" || link == "" {
			t.Fatalf("OPEN %s: code %q link %q, want a link", svc, code, link)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		if exp, _ := strconv.ParseInt(u.Query().Get("expired_time"), 10, 64); exp != clock.Now().Unix()+86400 {
			t.Errorf("OPEN %s: expired_time %d, want now+86400 = %d", svc, exp, clock.Now().Unix()+86400)
		}
	}
	// The legal representative may act too; services without a link open at once.
	for _, svc := range []string{"MOBILE_CHECK_APPROVER", "AGE_LIMIT_EXPANSION", "HIDE_OPERATOR_DISPLAY", "PAGING_SEAL"} {
		if code, link := modify("o", v.LegalOpenID, svc, "OPEN"); code != "" || link != "" {
			t.Errorf("OPEN %s: code %q link %q, want opened at once", svc, code, link)
		}
	}
	if code, link := modify("o", "boss", "AUTO_SIGN", "CLOSE"); code != "" || link != "" {
		t.Errorf("CLOSE: %q %q", code, link)
	}
	// A confirmed link opens the service; OPEN again then has nothing to do.
	_, link1 := modify("o", "boss", "DOWNLOAD_FLOW", "OPEN")
	if link1 == "" {
		t.Fatal("no link")
	}
	if err := sim.ConfirmService(DefaultAppID, "o", "DOWNLOAD_FLOW"); err != nil {
		t.Fatal(err)
	}
	if code, link := modify("o", "boss", "DOWNLOAD_FLOW", "OPEN"); code != "" || link != "" {
		t.Errorf("OPEN of an open service: %q %q, want no link", code, link)
	}
	// An expired link can no longer be confirmed.
	modify("o", "boss", "AUTO_SIGN", "OPEN")
	clock.Add(25 * time.Hour)
	if err := sim.ConfirmService(DefaultAppID, "o", "AUTO_SIGN"); err == nil {
		t.Error("confirmed an expired link")
	}
	for _, tt := range []struct{ svc, op, want string }{
		{"NOPE", "OPEN", "InvalidParameter.ParamError"},
		{"AUTO_SIGN", "TOGGLE", "InvalidParameter.ParamError"},
		{"", "OPEN", "MissingParameter"},
		{"AUTO_SIGN", "", "MissingParameter"},
	} {
		if code, _ := modify("o", "boss", tt.svc, tt.op); code != tt.want {
			t.Errorf("ServiceType %q Operate %q: %q, want %q", tt.svc, tt.op, code, tt.want)
		}
	}

	// Switches: OVERSEA_SIGN at once; earlier links kept.
	sim = New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}, OverseaSignAtOnce: true, KeepEarlierLinks: true})
	verifiedOrg(t, sim, clock, "o", "boss")
	if _, link := modify("o", "boss", "OVERSEA_SIGN", "OPEN"); link != "" {
		t.Errorf("OverseaSignAtOnce: link %q", link)
	}
	_, a := modify("o", "boss", "AUTO_SIGN", "OPEN")
	_, b := modify("o", "boss", "AUTO_SIGN", "OPEN")
	if a == "" || a != b {
		t.Errorf("KeepEarlierLinks: %q then %q, want the same link", a, b)
	}
}

func TestDescribeOffsetModes(t *testing.T) {
	t.Parallel()
	clock := newClock()
	for _, mode := range []OffsetMode{OffsetRecord, OffsetPage} {
		sim := New(Options{Now: clock.Now, RateLimit: -1, OffsetMode: mode, Lifecycle: &Lifecycle{Manual: true}})
		for i := range 9 {
			send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint("org-", i)))
		}
		_, resp := send(t, sim, clock, ActionDescribeChannelOrganizations, map[string]any{
			"Agent": agentJSON(DefaultAppID, DefaultQueryOrgOpenID, DefaultQueryOperatorOpenID), "Limit": 4, "Offset": 1})
		var infos []struct{ OrganizationOpenId string }
		var total int
		_ = json.Unmarshal(resp["ChannelOrganizationInfos"], &infos)
		_ = json.Unmarshal(resp["Total"], &total)
		var ids []string
		for _, in := range infos {
			ids = append(ids, in.OrganizationOpenId)
		}
		want := map[OffsetMode]string{
			OffsetRecord: "org-0 org-1 org-2 org-3", // the query company is record 0
			OffsetPage:   "org-3 org-4 org-5 org-6",
		}[mode]
		if strings.Join(ids, " ") != want || total != 10 {
			t.Errorf("%s mode, Offset 1 Limit 4: %v of %d, want %s of 10", mode, ids, total, want)
		}
	}
}

func TestDescribeValidation(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("plain"))
	query := agentJSON(DefaultAppID, DefaultQueryOrgOpenID, DefaultQueryOperatorOpenID)
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{"no limit", map[string]any{"Agent": query}, "MissingParameter"},
		{"limit 0", map[string]any{"Agent": query, "Limit": 0}, "InvalidParameter.ParamError"},
		{"limit 201", map[string]any{"Agent": query, "Limit": 201}, "InvalidParameter.ParamError"},
		{"offset -1", map[string]any{"Agent": query, "Limit": 1, "Offset": -1}, "InvalidParameter.ParamError"},
		{"offset 20001", map[string]any{"Agent": query, "Limit": 1, "Offset": 20001}, "InvalidParameter.ParamError"},
		{"offset 20000", map[string]any{"Agent": query, "Limit": 1, "Offset": 20000}, ""},
		{"limit as text", map[string]any{"Agent": query, "Limit": "20"}, "InvalidParameter"},
		{"unknown status", map[string]any{"Agent": query, "Limit": 1, "AuthorizationStatusList": []string{"DONE"}}, "InvalidParameter.ParamError"},
		{"no operator", map[string]any{"Agent": agentJSON(DefaultAppID, DefaultQueryOrgOpenID, ""), "Limit": 1}, "MissingParameter"},
		{"unverified agent company", map[string]any{"Agent": agentJSON(DefaultAppID, "plain", "x"), "Limit": 1}, "OperationDenied"},
		{"operator not admin", map[string]any{"Agent": agentJSON(DefaultAppID, DefaultQueryOrgOpenID, "someone"), "Limit": 1}, "OperationDenied"},
		{"unknown app", map[string]any{"Agent": agentJSON("nope", DefaultQueryOrgOpenID, DefaultQueryOperatorOpenID), "Limit": 1}, "ResourceNotFound.Application"},
		{"unknown field", map[string]any{"Agent": query, "Limit": 1, "PageSize": 3}, "UnknownParameter"},
		{"unknown agent field", map[string]any{"Agent": map[string]any{"AppId": DefaultAppID, "Foo": 1}, "Limit": 1}, "UnknownParameter"},
		{"unknown operator field", map[string]any{"Agent": map[string]any{"AppId": DefaultAppID, "ProxyOperator": map[string]any{"Mobile": "1"}}, "Limit": 1}, "UnknownParameter"},
	}
	for _, tt := range tests {
		if code, _ := send(t, sim, clock, ActionDescribeChannelOrganizations, tt.body); code != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, code, tt.want)
		}
	}
	anyAgent := New(Options{Now: clock.Now, DescribeAnyAgent: true})
	if code, _ := send(t, anyAgent, clock, ActionDescribeChannelOrganizations, map[string]any{"Agent": agentJSON(DefaultAppID, "whoever", "x"), "Limit": 1}); code != "" {
		t.Errorf("DescribeAnyAgent: %s", code)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Faults: []Fault{{Action: ActionSyncProxyOrganization, Share: 1, Code: "InternalError", Times: 2}}})
	var codes []string
	for i := range 3 {
		code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint(i)))
		codes = append(codes, code)
	}
	if strings.Join(codes, ",") != "InternalError,InternalError," {
		t.Errorf("fault for two calls: %q", codes)
	}
	if err := sim.SetFaults([]Fault{{Share: 2, Code: "X"}}); err == nil {
		t.Error("share 2 accepted")
	}
	if err := sim.SetFaults([]Fault{{Share: 0.5}}); err == nil {
		t.Error("a fault doing nothing accepted")
	}
	// A share of calls: deterministic with a seed, about the share.
	sim = New(Options{Now: clock.Now, RateLimit: -1, Seed: 7, Faults: []Fault{{Share: 0.3, Code: "ResourceUnavailable"}}})
	failed := 0
	for i := range 400 {
		if code, _ := send(t, sim, clock, ActionSyncProxyOrganization, syncBody(fmt.Sprint(i))); code == "ResourceUnavailable" {
			failed++
		}
	}
	if failed < 80 || failed > 160 {
		t.Errorf("%d of 400 calls failed with share 0.3", failed)
	}
}

func TestFaultDropAndLatencyOverHTTP(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	post := func() (*http.Response, error) {
		body := `{"Agent":{"AppId":"onboard-sim-app","ProxyOrganizationOpenId":"o"},"ProxyOrganizationName":"企业"}`
		r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		r.Header.Set("X-TC-Action", ActionSyncProxyOrganization)
		r.Header.Set("X-TC-Version", Version)
		SignRequest(r, []byte(body), DefaultSecretID, DefaultSecretKey, time.Now())
		return srv.Client().Do(r)
	}
	if err := sim.SetFaults([]Fault{{Share: 1, Drop: true}}); err != nil {
		t.Fatal(err)
	}
	if resp, err := post(); err == nil {
		resp.Body.Close()
		t.Fatal("dropped connection answered")
	}
	if err := sim.SetFaults([]Fault{{Share: 1, Latency: 150 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := post()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answer after %s, want at least the 150ms latency", d)
	}
	st := sim.Stats()
	if st.Dropped[ActionSyncProxyOrganization] != 1 || st.Total(ActionSyncProxyOrganization, "Success") != 1 {
		t.Errorf("counters: %+v", st)
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	sim := New(Options{Lifecycle: &Lifecycle{Manual: true}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Sync one company through the API.
	body := `{"Agent":{"AppId":"onboard-sim-app","ProxyOrganizationOpenId":"o"},"ProxyOrganizationName":"企业"}`
	r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	r.Header.Set("X-TC-Action", ActionSyncProxyOrganization)
	r.Header.Set("X-TC-Version", Version)
	SignRequest(r, []byte(body), DefaultSecretID, DefaultSecretKey, time.Now())
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	checks := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/_sim/", "", 200, "/_sim/stats"},
		{"GET", "/_sim/stats", "", 200, `"onboard-sim-app/o": 1`},
		{"POST", "/_sim/status", `{"AppId":"onboard-sim-app","OrganizationOpenId":"o","Status":"VERIFIED"}`, 200, `"AuthorizationStatus": "VERIFIED"`},
		{"POST", "/_sim/status", `{"AppId":"onboard-sim-app","OrganizationOpenId":"o","Status":"DONE"}`, 400, "unknown status"},
		{"POST", "/_sim/status", `{"AppId":"onboard-sim-app","OrganizationOpenId":"missing","Status":"VERIFIED"}`, 400, "sync it first"},
		{"GET", "/_sim/orgs?AppId=onboard-sim-app&OrganizationOpenId=o", "", 200, `"SetByHand": true`},
		{"GET", "/_sim/orgs?AppId=onboard-sim-app", "", 200, DefaultQueryOrgOpenID},
		{"PUT", "/_sim/faults", `[{"action":"SyncProxyOrganization","share":0.5,"code":"InternalError"}]`, 200, `"InternalError"`},
		{"PUT", "/_sim/faults", `[{"action":"Nope","share":0.5,"code":"InternalError"}]`, 400, "unknown action"},
		{"PUT", "/_sim/faults", `[{"share":0.5,"latency":"soon"}]`, 400, "latency"},
		{"PUT", "/_sim/faults", `[{"share":0.5,"delay":"1s"}]`, 400, "unknown field"},
		{"GET", "/_sim/faults", "", 200, `"share": 0.5`},
		{"PUT", "/_sim/faults", `[{"share":1,"latency":"250ms"},{"share":0.1,"latency":1000}]`, 200, `"latency": "250ms"`},
		{"GET", "/_sim/faults", "", 200, `"latency": "1µs"`},
		{"DELETE", "/_sim/faults", "", 200, "[]"},
		{"POST", "/_sim/apps", `{"AppId":"second","QueryOrgOpenId":"q","QueryOperatorOpenId":"op"}`, 200, "second"},
		{"POST", "/_sim/apps", `{"AppId":"third","QueryOrgOpenId":"q"}`, 400, "both"},
		{"GET", "/_sim/apps", "", 200, `"AppId": "second"`},
		{"POST", "/_sim/services/confirm", `{"AppId":"onboard-sim-app","OrganizationOpenId":"o","ServiceType":"AUTO_SIGN"}`, 400, "no pending link"},
		{"DELETE", "/_sim/stats", "", 200, "reset"},
		{"GET", "/_sim/nope", "", 404, "no admin endpoint"},
	}
	for _, c := range checks {
		status, got := do(c.method, c.path, c.body)
		if status != c.status || !strings.Contains(got, c.contains) {
			t.Errorf("%s %s: %d %s, want %d containing %q", c.method, c.path, status, got, c.status, c.contains)
		}
	}
	if len(sim.Faults()) != 0 || len(sim.Stats().Syncs) != 0 {
		t.Errorf("faults %v and stats %v after DELETE", sim.Faults(), sim.Stats())
	}
	if v, ok := sim.Org("second", "q"); !ok || v.AuthorizationStatus != StatusVerified || v.AdminOpenID != "op" {
		t.Errorf("query identity of an app added by the admin endpoint: %+v", v)
	}
}

func TestAnyApp(t *testing.T) {
	t.Parallel()
	clock := newClock()
	strict := New(Options{Now: clock.Now})
	if code, _ := send(t, strict, clock, ActionSyncProxyOrganization, map[string]any{"Agent": agentJSON("other", "o", ""), "ProxyOrganizationName": "企业"}); code != "ResourceNotFound.Application" {
		t.Errorf("unknown app: %q", code)
	}
	open := New(Options{Now: clock.Now, AnyApp: true})
	if code, _ := send(t, open, clock, ActionSyncProxyOrganization, map[string]any{"Agent": agentJSON("other", "o", ""), "ProxyOrganizationName": "企业"}); code != "" {
		t.Errorf("AnyApp: %q", code)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, RateLimit: -1})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				b, _ := json.Marshal(syncBody(fmt.Sprint(g, "-", i)))
				w := httptest.NewRecorder()
				sim.ServeHTTP(w, rawRequest{action: ActionSyncProxyOrganization, body: string(b), at: clock.Now()}.build())
				_ = sim.Stats()
				_ = sim.Orgs(DefaultAppID)
			}
		}()
	}
	wg.Wait()
	if n := len(sim.Orgs(DefaultAppID)); n != 8*50+1 {
		t.Errorf("%d companies, want %d", n, 8*50+1)
	}
}
