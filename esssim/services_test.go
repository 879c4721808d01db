package esssim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// authInfo is one entry of DescribeExtendedServiceAuthInfo's answer.
type authInfo struct {
	Type, Name, Status, OperatorOpenId string
	OperateOn                          int64
}

// describeServices calls DescribeExtendedServiceAuthInfo; it returns the
// error code ("" on success) and the services by type.
func describeServices(t *testing.T, sim *Server, clock *fakeClock, org, operator string) (string, map[string]authInfo) {
	t.Helper()
	code, resp := send(t, sim, clock, ActionDescribeExtendedServiceAuthInfo, map[string]any{"Agent": agentJSON(DefaultAppID, org, operator)})
	if code != "" {
		return code, nil
	}
	var list []authInfo
	if err := json.Unmarshal(resp["AuthInfo"], &list); err != nil {
		t.Fatalf("AuthInfo: %v: %s", err, resp["AuthInfo"])
	}
	out := map[string]authInfo{}
	for _, in := range list {
		out[in.Type] = in
	}
	if len(out) != len(list) {
		t.Fatalf("a service type listed twice: %+v", list)
	}
	return "", out
}

func modifyService(t *testing.T, sim *Server, clock *fakeClock, org, operator, svc, op string) (string, string) {
	t.Helper()
	code, resp := send(t, sim, clock, ActionModifyExtendedService, map[string]any{
		"Agent": agentJSON(DefaultAppID, org, operator), "ServiceType": svc, "Operate": op})
	var u string
	_ = json.Unmarshal(resp["OperateUrl"], &u)
	return code, u
}

func TestDescribeExtendedServiceAuthInfo(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	verifiedOrg(t, sim, clock, "o", "boss")

	code, svcs := describeServices(t, sim, clock, "o", "boss")
	if code != "" || len(svcs) != 7 {
		t.Fatalf("fresh company: %q %+v, want the seven services", code, svcs)
	}
	for _, typ := range []string{"AUTO_SIGN", "OVERSEA_SIGN", "MOBILE_CHECK_APPROVER", "PAGING_SEAL", "DOWNLOAD_FLOW", "AGE_LIMIT_EXPANSION", "HIDE_OPERATOR_DISPLAY"} {
		in := svcs[typ]
		if in.Status != ServiceDisable || in.Name == "" || in.OperatorOpenId != "" || in.OperateOn != 0 {
			t.Errorf("fresh %s: %+v, want DISABLE, named, never operated", typ, in)
		}
	}

	// A service without a link is ENABLE at once; one with a link only
	// once its admin has followed it.
	opened := clock.Now().Unix()
	modifyService(t, sim, clock, "o", "boss", "PAGING_SEAL", "OPEN")
	if _, link := modifyService(t, sim, clock, "o", "boss", "AUTO_SIGN", "OPEN"); link == "" {
		t.Fatal("AUTO_SIGN OPEN without a link")
	}
	_, svcs = describeServices(t, sim, clock, "o", "boss")
	if in := svcs["PAGING_SEAL"]; in.Status != ServiceEnable || in.OperatorOpenId != "boss" || in.OperateOn != opened {
		t.Errorf("PAGING_SEAL after OPEN: %+v, want ENABLE by boss at %d", in, opened)
	}
	if in := svcs["AUTO_SIGN"]; in.Status != ServiceDisable {
		t.Errorf("AUTO_SIGN with a link not followed: %+v, want DISABLE", in)
	}
	clock.Add(time.Minute)
	if err := sim.ConfirmService(DefaultAppID, "o", "AUTO_SIGN"); err != nil {
		t.Fatal(err)
	}
	_, svcs = describeServices(t, sim, clock, "o", "boss")
	if in := svcs["AUTO_SIGN"]; in.Status != ServiceEnable || in.OperatorOpenId != "boss" || in.OperateOn != clock.Now().Unix() {
		t.Errorf("AUTO_SIGN after the link was followed: %+v", in)
	}
	// The legal representative may ask too; CLOSE makes it DISABLE.
	v, _ := sim.Org(DefaultAppID, "o")
	modifyService(t, sim, clock, "o", v.LegalOpenID, "PAGING_SEAL", "CLOSE")
	if code, svcs := describeServices(t, sim, clock, "o", v.LegalOpenID); code != "" || svcs["PAGING_SEAL"].Status != ServiceDisable ||
		svcs["PAGING_SEAL"].OperatorOpenId != v.LegalOpenID {
		t.Errorf("after CLOSE by the legal representative: %q %+v", code, svcs["PAGING_SEAL"])
	}

	send(t, sim, clock, ActionSyncProxyOrganization, syncBody("plain"))
	for _, tt := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"company not verified", map[string]any{"Agent": agentJSON(DefaultAppID, "plain", "x")}, "OperationDenied"},
		{"company never synced", map[string]any{"Agent": agentJSON(DefaultAppID, "nobody", "boss")}, "OperationDenied"},
		{"operator not admin", map[string]any{"Agent": agentJSON(DefaultAppID, "o", "clerk")}, "OperationDenied"},
		{"no operator", map[string]any{"Agent": agentJSON(DefaultAppID, "o", "")}, "MissingParameter"},
		{"no company", map[string]any{"Agent": map[string]any{"AppId": DefaultAppID, "ProxyOperator": map[string]any{"OpenId": "boss"}}}, "MissingParameter"},
		{"no agent", map[string]any{}, "MissingParameter"},
		{"unknown application", map[string]any{"Agent": agentJSON("nope", "o", "boss")}, "ResourceNotFound.Application"},
		{"a filter the documentation does not give", map[string]any{"Agent": agentJSON(DefaultAppID, "o", "boss"), "ExtendedServiceType": "AUTO_SIGN"}, "UnknownParameter"},
		{"agent of the wrong type", map[string]any{"Agent": "o"}, "InvalidParameter"},
	} {
		if code, _ := send(t, sim, clock, ActionDescribeExtendedServiceAuthInfo, tt.body); code != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, code, tt.want)
		}
	}
	st := sim.Stats()
	if st.Total(ActionDescribeExtendedServiceAuthInfo, "Success") != 4 || st.Total(ActionDescribeExtendedServiceAuthInfo, "OperationDenied") != 3 ||
		st.OrgCalls[ActionDescribeExtendedServiceAuthInfo][DefaultAppID+"/o"] != 7 {
		t.Errorf("counters: calls %v, org calls %v", st.Calls[ActionDescribeExtendedServiceAuthInfo], st.OrgCalls[ActionDescribeExtendedServiceAuthInfo])
	}
}

func TestDescribeExtendedServiceAuthInfoRateLimit(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, RateLimit: 2, Lifecycle: &Lifecycle{Manual: true}})
	verifiedOrg(t, sim, clock, "o", "boss")
	clock.Add(time.Second)
	var codes []string
	for range 3 {
		code, _ := describeServices(t, sim, clock, "o", "boss")
		codes = append(codes, code)
	}
	if strings.Join(codes, ",") != ",,RequestLimitExceeded" {
		t.Errorf("three calls with a limit of 2: %q", codes)
	}
	// Its own budget: other actions are not limited by it.
	if code, _ := modifyService(t, sim, clock, "o", "boss", "PAGING_SEAL", "OPEN"); code != "" {
		t.Errorf("Modify after the Describe burst: %q", code)
	}
	if n := sim.Stats().RateLimited[ActionDescribeExtendedServiceAuthInfo]; n != 1 {
		t.Errorf("rate_limited = %d, want 1", n)
	}
}

// enabled returns the companies among orgs whose AUTO_SIGN is ENABLE.
func enabled(t *testing.T, sim *Server, clock *fakeClock, orgs []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, o := range orgs {
		code, svcs := describeServices(t, sim, clock, o, "boss-"+o)
		if code != "" {
			t.Fatalf("describe %s: %s", o, code)
		}
		if svcs["AUTO_SIGN"].Status == ServiceEnable {
			out[o] = true
		}
	}
	return out
}

func TestAdminsFollowLinks(t *testing.T) {
	t.Parallel()
	const n = 300
	run := func() (before, after map[string]bool) {
		clock := newClock()
		sim := New(Options{Now: clock.Now, RateLimit: -1, Lifecycle: &Lifecycle{Manual: true},
			Admins: &Admins{OpenAfter: 10 * time.Minute, NeverShare: 0.3}})
		var orgs []string
		for i := range n {
			o := fmt.Sprint("org-", i)
			orgs = append(orgs, o)
			verifiedOrg(t, sim, clock, o, "boss-"+o)
			// Services without a link are ENABLE at once.
			modifyService(t, sim, clock, o, "boss-"+o, "MOBILE_CHECK_APPROVER", "OPEN")
			if _, link := modifyService(t, sim, clock, o, "boss-"+o, "AUTO_SIGN", "OPEN"); link == "" {
				t.Fatal("no link")
			}
		}
		opened := clock.Now()
		clock.Add(10*time.Minute - time.Second)
		before = enabled(t, sim, clock, orgs)
		clock.Add(time.Second)
		after = enabled(t, sim, clock, orgs)
		v, _ := sim.Org(DefaultAppID, "org-0")
		if v.Services["MOBILE_CHECK_APPROVER"].Status != ServiceEnable {
			t.Errorf("MOBILE_CHECK_APPROVER: %+v", v.Services["MOBILE_CHECK_APPROVER"])
		}
		for o := range after {
			_, svcs := describeServices(t, sim, clock, o, "boss-"+o)
			if in := svcs["AUTO_SIGN"]; in.OperatorOpenId != "boss-"+o || in.OperateOn != opened.Add(10*time.Minute).Unix() {
				t.Fatalf("%s opened by its admin: %+v, want boss-%s at %d", o, in, o, opened.Add(10*time.Minute).Unix())
			}
		}
		return before, after
	}
	before, after := run()
	if len(before) != 0 {
		t.Errorf("%d services ENABLE before the admins' delay", len(before))
	}
	// The share is decided by a hash; allow for its spread.
	if got := float64(len(after)); got < 0.7*n*0.85 || got > 0.7*n*1.15 {
		t.Errorf("%v of %d ENABLE after the delay, want about 70%%", got, n)
	}
	// The same companies on another run.
	_, again := run()
	if len(again) != len(after) {
		t.Errorf("second run: %d ENABLE, first %d", len(again), len(after))
	}
	for o := range after {
		if !again[o] {
			t.Errorf("%s ENABLE in the first run only", o)
		}
	}
}

func TestAdminsAndRenewedLinks(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}, Admins: &Admins{OpenAfter: time.Hour}})
	verifiedOrg(t, sim, clock, "o", "boss-o")
	state := func() string {
		v, _ := sim.Org(DefaultAppID, "o")
		return v.Services["AUTO_SIGN"].Status
	}
	modifyService(t, sim, clock, "o", "boss-o", "AUTO_SIGN", "OPEN")
	clock.Add(30 * time.Minute)
	// A new link replaces the first: the admin follows the new one.
	modifyService(t, sim, clock, "o", "boss-o", "AUTO_SIGN", "OPEN")
	clock.Add(45 * time.Minute)
	if st := state(); st != ServiceDisable {
		t.Errorf("an hour after the first link, 45 minutes after the second: %s", st)
	}
	clock.Add(15 * time.Minute)
	if st := state(); st != ServiceEnable {
		t.Errorf("an hour after the second link: %s", st)
	}
	// OPEN of an open service has nothing to do.
	if code, link := modifyService(t, sim, clock, "o", "boss-o", "AUTO_SIGN", "OPEN"); code != "" || link != "" {
		t.Errorf("OPEN of an ENABLE service: %q %q", code, link)
	}

	// Admins who take longer than a link lives never open it.
	sim = New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}, Admins: &Admins{OpenAfter: 25 * time.Hour}})
	verifiedOrg(t, sim, clock, "o", "boss-o")
	modifyService(t, sim, clock, "o", "boss-o", "DOWNLOAD_FLOW", "OPEN")
	clock.Add(48 * time.Hour)
	if v, _ := sim.Org(DefaultAppID, "o"); v.Services["DOWNLOAD_FLOW"].Status != ServiceDisable {
		t.Errorf("25h admins, 24h links: %+v", v.Services["DOWNLOAD_FLOW"])
	}

	// Without Options.Admins nothing opens by itself.
	sim = New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	verifiedOrg(t, sim, clock, "o", "boss-o")
	modifyService(t, sim, clock, "o", "boss-o", "AUTO_SIGN", "OPEN")
	clock.Add(23 * time.Hour)
	if v, _ := sim.Org(DefaultAppID, "o"); v.Services["AUTO_SIGN"].State != ServicePending {
		t.Errorf("no Admins: %+v", v.Services["AUTO_SIGN"])
	}
}

func TestSetService(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim := New(Options{Now: clock.Now, Lifecycle: &Lifecycle{Manual: true}})
	if err := sim.SetService(DefaultAppID, "o", "AUTO_SIGN", ServiceEnable); err == nil {
		t.Error("SetService of a company never synced")
	}
	verifiedOrg(t, sim, clock, "o", "boss")
	for _, tt := range []struct{ svc, status string }{{"FAST_SIGN", ServiceEnable}, {"AUTO_SIGN", "OPEN"}, {"AUTO_SIGN", ""}} {
		if err := sim.SetService(DefaultAppID, "o", tt.svc, tt.status); err == nil {
			t.Errorf("SetService(%q, %q) accepted", tt.svc, tt.status)
		}
	}
	modifyService(t, sim, clock, "o", "boss", "AUTO_SIGN", "OPEN")
	if err := sim.SetService(DefaultAppID, "o", "AUTO_SIGN", ServiceEnable); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetService(DefaultAppID, "o", "OVERSEA_SIGN", ServiceEnable); err != nil {
		t.Fatal(err)
	}
	_, svcs := describeServices(t, sim, clock, "o", "boss")
	if svcs["AUTO_SIGN"].Status != ServiceEnable || svcs["OVERSEA_SIGN"].Status != ServiceEnable || svcs["OVERSEA_SIGN"].OperatorOpenId != "boss" {
		t.Errorf("after SetService ENABLE: %+v %+v", svcs["AUTO_SIGN"], svcs["OVERSEA_SIGN"])
	}
	if err := sim.SetService(DefaultAppID, "o", "AUTO_SIGN", ServiceDisable); err != nil {
		t.Fatal(err)
	}
	v, _ := sim.Org(DefaultAppID, "o")
	if sv := v.Services["AUTO_SIGN"]; sv.State != ServiceClosed || sv.Status != ServiceDisable || sv.OperateURL != "" {
		t.Errorf("after SetService DISABLE: %+v", sv)
	}

	srv := httptest.NewServer(sim)
	defer srv.Close()
	for _, tt := range []struct {
		body     string
		status   int
		contains string
	}{
		{`{"AppId":"onboard-sim-app","OrganizationOpenId":"o","ServiceType":"DOWNLOAD_FLOW","Status":"ENABLE"}`, 200, `"Status": "ENABLE"`},
		{`{"AppId":"onboard-sim-app","OrganizationOpenId":"o","ServiceType":"DOWNLOAD_FLOW","Status":"ON"}`, 400, "ENABLE or DISABLE"},
		{`{"AppId":"onboard-sim-app","OrganizationOpenId":"x","ServiceType":"DOWNLOAD_FLOW","Status":"ENABLE"}`, 400, "sync it first"},
		{`{"AppId":"onboard-sim-app","OrganizationOpenId":"o","Service":"DOWNLOAD_FLOW"}`, 400, "unknown field"},
	} {
		resp, err := http.Post(srv.URL+"/_sim/services/status", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, resp)
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.contains) {
			t.Errorf("POST /_sim/services/status %s: %d %s, want %d with %q", tt.body, resp.StatusCode, got, tt.status, tt.contains)
		}
	}
}
