package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/testenv"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func simEnv(vars map[string]string) (*Env, *lockedBuffer, *lockedBuffer) {
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	return &Env{Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(""), Stdout: out, Stderr: errb}, out, errb
}

func TestSimulateCommand(t *testing.T) {
	t.Parallel()
	env, out, errb := simEnv(map[string]string{
		"ESS_APP_ID": "cmd-app", "ESS_QUERY_ORG_OPENID": "cmd-query", "ESS_QUERY_OPERATOR_OPENID": "cmd-operator",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"simulate", "--addr", "127.0.0.1:0", "--manual",
			"--fault", "ModifyExtendedService:1:InternalError"}, env)
	}()

	addrRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var endpoint string
	deadline := time.Now().Add(30 * time.Second)
	for endpoint == "" {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			endpoint = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("simulate exited with %d: %s%s", code, out, errb)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed: %s", out)
		}
	}
	if strings.Contains(out.String(), esssim.DefaultSecretKey) {
		t.Errorf("the key is printed: %s", out)
	}

	c, err := ess.New(ess.Config{Endpoint: endpoint, SecretID: esssim.DefaultSecretID, SecretKey: esssim.DefaultSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if _, err := c.SyncProxyOrganization(bg, &ess.SyncProxyOrganizationRequest{
		Agent: ess.Agent{AppId: "cmd-app", ProxyOrganizationOpenId: "o1"}, ProxyOrganizationName: "测试企业"}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if _, err := c.SyncProxyOrganization(bg, &ess.SyncProxyOrganizationRequest{
		Agent: ess.Agent{AppId: "other-app", ProxyOrganizationOpenId: "o1"}, ProxyOrganizationName: "测试企业"}); ess.ClassOf(err) != ess.ClassSystemic {
		t.Errorf("unknown application: %v", err)
	}
	list, err := c.DescribeChannelOrganizations(bg, &ess.DescribeChannelOrganizationsRequest{
		Agent: ess.Agent{AppId: "cmd-app", ProxyOrganizationOpenId: "cmd-query", ProxyOperator: &ess.UserInfo{OpenId: "cmd-operator"}}, Limit: 10})
	if err != nil || list.Total != 2 || list.ChannelOrganizationInfos[1].AuthorizationStatus != ess.StatusUnverified {
		t.Errorf("describe with the configured query identity: %+v, %v", list, err)
	}
	_, err = c.ModifyExtendedService(bg, &ess.ModifyExtendedServiceRequest{
		Agent: ess.Agent{AppId: "cmd-app", ProxyOrganizationOpenId: "cmd-query", ProxyOperator: &ess.UserInfo{OpenId: "cmd-operator"}}, ServiceType: "AUTO_SIGN", Operate: "OPEN"})
	var ae *ess.APIError
	if !errors.As(err, &ae) || ae.Code != "InternalError" {
		t.Errorf("the --fault flag: %v", err)
	}
	resp, err := http.Get(endpoint + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(stats), `"cmd-app/o1": 1`) {
		t.Errorf("stats: %s", stats)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit code %d after shutdown: %s", code, errb)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("simulate did not stop")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("output: %s", out)
	}
}

func TestSimulateUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		vars map[string]string
		code int
		want string
	}{
		{[]string{"simulate", "--help"}, nil, exitOK, "Usage: onboard simulate"},
		{[]string{"simulate", "--rate-key", "ip"}, nil, exitUsage, "--rate-key"},
		{[]string{"simulate", "--offset-mode", "cursor"}, nil, exitUsage, "--offset-mode"},
		{[]string{"simulate", "--fault", "oops"}, nil, exitUsage, "ACTION"},
		{[]string{"simulate", "--fault", "Nope:0.5:InternalError"}, nil, exitUsage, "unknown action"},
		{[]string{"simulate", "--never-verify", "2"}, nil, exitUsage, "--never-verify"},
		{[]string{"simulate", "--rate-limit", "0"}, nil, exitUsage, "--rate-limit"},
		{[]string{"simulate", "extra"}, nil, exitUsage, "unexpected argument"},
		{[]string{"simulate", "--addr", "127.0.0.1:0"}, map[string]string{"ESS_QUERY_ORG_OPENID": "q"}, exitFailure, "set both"},
		{[]string{"simulate", "--addr", "256.0.0.1:1"}, nil, exitFailure, "simulate:"},
		{[]string{"simulate", "--admin-never", "0.5"}, nil, exitUsage, "needs --admin-open-after"},
		{[]string{"simulate", "--admin-open-after", "1m", "--admin-never", "1.5"}, nil, exitUsage, "--admin-never"},
		{[]string{"simulate", "--admin-open-after", "-1s"}, nil, exitUsage, "--admin-open-after"},
		{[]string{"simulate", "--callback-url", "http://127.0.0.1:1/cb", "--callback-key", "sixteen-byte-key"}, nil, exitUsage, "exactly 32 bytes"},
		{[]string{"simulate", "--callback-token", "t"}, nil, exitUsage, "without a URL"},
		{[]string{"simulate", "--callback-drop", "0.5"}, nil, exitUsage, "need --callback-url"},
		{[]string{"simulate", "--callback-url", "localhost:8080/cb"}, nil, exitUsage, "URL"},
		{[]string{"simulate", "--callback-url", "http://127.0.0.1:1/cb", "--callback-duplicate", "2"}, nil, exitUsage, "duplicate share"},
		{[]string{"simulate", "--callback-url", "http://127.0.0.1:1/cb", "--callback-attempts", "0"}, nil, exitUsage, "--callback-attempts"},
		{[]string{"simulate", "--callback-url", "http://127.0.0.1:1/cb", "--callback-retry-wait", "0s"}, nil, exitUsage, "--callback-retry-wait"},
		{[]string{"simulate", "--help"}, nil, exitOK, "--callback-url"},
	}
	for _, tt := range tests {
		env, out, errb := simEnv(tt.vars)
		code := run(context.Background(), tt.args, env)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
			t.Errorf("%v: exit %d, output %q%q; want exit %d mentioning %q", tt.args, code, out, errb, tt.code, tt.want)
		}
	}
}

// startSimulate runs 'onboard simulate' with args until the test ends and
// returns its endpoint and its output.
func startSimulate(t *testing.T, args []string, vars map[string]string) (string, *lockedBuffer) {
	t.Helper()
	env, out, errb := simEnv(vars)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"simulate", "--addr", "127.0.0.1:0"}, args...), env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("exit code %d after shutdown: %s", code, errb)
			}
		case <-time.After(30 * time.Second):
			t.Error("simulate did not stop")
		}
	})
	addrRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("simulate exited with %d: %s%s", code, out, errb)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed: %s", out)
		}
	}
}

func TestSimulateCallbacks(t *testing.T) {
	t.Parallel()
	const key, token = "onboard-simulate-callback-key-32", "onboard-simulate-token"
	codec, err := esscallback.New(key, token)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	types := map[string]int{}
	bad := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := codec.Decode(body, r.Header.Get(esscallback.SignatureHeader))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad++
			w.WriteHeader(esscallback.HTTPStatus(err))
			return
		}
		types[m.MsgType]++
	}))
	defer receiver.Close()

	endpoint, out := startSimulate(t, []string{"--manual", "--admin-open-after", "1ms", "--seed", "3",
		"--callback-url", receiver.URL + "/callbacks/essbasic", "--callback-key", key, "--callback-token", token}, nil)
	if s := out.String(); strings.Contains(s, key) || strings.Contains(s, token) || !strings.Contains(s, "callbacks to "+receiver.URL+"/callbacks/essbasic (encrypted, signed)") {
		t.Errorf("output: %s", s)
	}
	c, err := ess.New(ess.Config{Endpoint: endpoint, SecretID: esssim.DefaultSecretID, SecretKey: esssim.DefaultSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	agent := ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "o1", ProxyOperator: &ess.UserInfo{OpenId: "boss"}}
	if _, err := c.SyncProxyOrganization(bg, &ess.SyncProxyOrganizationRequest{Agent: ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "o1"}, ProxyOrganizationName: "测试企业"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConsoleLoginUrl(bg, &ess.CreateConsoleLoginUrlRequest{Agent: agent, ProxyOrganizationName: "测试企业"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(endpoint+"/_sim/status", "application/json", strings.NewReader(`{"AppId":"`+esssim.DefaultAppID+`","OrganizationOpenId":"o1","Status":"VERIFIED"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m, err := c.ModifyExtendedService(bg, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "AUTO_SIGN", Operate: "OPEN"}); err != nil || m.OperateUrl == "" {
		t.Fatalf("OPEN AUTO_SIGN: %+v, %v", m, err)
	}
	// The admin opens the link a millisecond after it was issued.
	testenv.WaitFor(t, 30*time.Second, "AUTO_SIGN ENABLE", func() bool {
		s, err := c.DescribeExtendedServiceAuthInfo(bg, &ess.DescribeExtendedServiceAuthInfoRequest{Agent: agent})
		return err == nil && s.Enabled("AUTO_SIGN")
	})
	testenv.WaitFor(t, 30*time.Second, "the callbacks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return types[esscallback.TypeOperateExtendedService] == 1 && types[esscallback.TypeOrgOpenTsignBiz] == 1
	})
	mu.Lock()
	if bad != 0 || types[esscallback.TypeOrgAuth] != 1 {
		t.Errorf("received %v, %d refused", types, bad)
	}
	mu.Unlock()

	// The counters, once the last answer has reached the simulator.
	var st esssim.Stats
	testenv.WaitFor(t, 30*time.Second, "no callback in flight", func() bool {
		r, err := http.Get(endpoint + "/_sim/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		st = esssim.Stats{}
		if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.Callbacks.InFlight == 0
	})
	if st.Callbacks.Failed != 0 || st.Callbacks.Delivered != 3 || st.Callbacks.Sent != 3 || st.Total(ess.ActionDescribeExtendedServiceAuthInfo, "Success") < 1 {
		t.Errorf("stats: callbacks %+v, calls %v", st.Callbacks, st.Calls)
	}
}
