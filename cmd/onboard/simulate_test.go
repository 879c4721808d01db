package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
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
	}
	for _, tt := range tests {
		env, out, errb := simEnv(tt.vars)
		code := run(context.Background(), tt.args, env)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
			t.Errorf("%v: exit %d, output %q%q; want exit %d mentioning %q", tt.args, code, out, errb, tt.code, tt.want)
		}
	}
}
