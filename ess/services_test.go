package ess_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
)

// actionsSeen is a transport that records every X-TC-Action and body it
// carries, as the rate limiter's transport sees them.
type actionsSeen struct {
	mu      sync.Mutex
	actions []string
	bodies  []map[string]json.RawMessage
	next    http.RoundTripper
}

func (a *actionsSeen) RoundTrip(req *http.Request) (*http.Response, error) {
	var body map[string]json.RawMessage
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			_ = json.NewDecoder(rc).Decode(&body)
			rc.Close()
		}
	}
	a.mu.Lock()
	a.actions = append(a.actions, req.Header.Get("X-TC-Action"))
	a.bodies = append(a.bodies, body)
	a.mu.Unlock()
	return a.next.RoundTrip(req)
}

func TestDescribeExtendedServiceAuthInfo(t *testing.T) {
	t.Parallel()
	seen := &actionsSeen{}
	b := setup(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}, Admins: &esssim.Admins{OpenAfter: time.Hour}},
		func(c *ess.Config) { seen.next = c.Transport; c.Transport = seen })
	ctx := context.Background()
	verified(t, b, esssim.DefaultAppID, "org-1", "admin-1")
	agent := ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "org-1", ProxyOperator: operator("admin-1")}

	resp, err := b.client.DescribeExtendedServiceAuthInfo(ctx, &ess.DescribeExtendedServiceAuthInfoRequest{Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	if resp.RequestId == "" || len(resp.AuthInfo) != 7 {
		t.Fatalf("answer %+v, want a RequestId and seven services", resp)
	}
	if diff := cmp.Diff([]string{"AuthInfo", "RequestId"}, b.rec.responseKeys(t, ess.ActionDescribeExtendedServiceAuthInfo)); diff != "" {
		t.Errorf("answer shape (-documented +got):\n%s", diff)
	}
	var entry struct {
		Response struct{ AuthInfo []map[string]json.RawMessage }
	}
	b.rec.mu.Lock()
	_ = json.Unmarshal(b.rec.last[ess.ActionDescribeExtendedServiceAuthInfo], &entry)
	b.rec.mu.Unlock()
	if diff := cmp.Diff([]string{"Name", "OperateOn", "OperatorOpenId", "Status", "Type"}, sortedKeys(entry.Response.AuthInfo[0])); diff != "" {
		t.Errorf("entry shape (-documented +got):\n%s", diff)
	}
	for _, in := range resp.AuthInfo {
		if in.Status != ess.ServiceDisable || in.Name == "" {
			t.Errorf("fresh company: %+v", in)
		}
	}
	if _, ok := resp.Service("NO_SUCH_SERVICE"); ok || resp.Enabled("AUTO_SIGN") {
		t.Error("Service or Enabled found what is not there")
	}

	// Opened at once without a link; AUTO_SIGN only once the admin follows it.
	before := time.Now().Unix()
	if _, err := b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "MOBILE_CHECK_APPROVER", Operate: "OPEN"}); err != nil {
		t.Fatal(err)
	}
	open, err := b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "AUTO_SIGN", Operate: "OPEN"})
	if err != nil || open.OperateUrl == "" {
		t.Fatalf("OPEN AUTO_SIGN: %+v, %v", open, err)
	}
	resp, err = b.client.DescribeExtendedServiceAuthInfo(ctx, &ess.DescribeExtendedServiceAuthInfoRequest{Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	mobile, _ := resp.Service("MOBILE_CHECK_APPROVER")
	if !resp.Enabled("MOBILE_CHECK_APPROVER") || mobile.OperatorOpenId != "admin-1" || mobile.OperateOn < before || mobile.OperateOn > time.Now().Unix() {
		t.Errorf("MOBILE_CHECK_APPROVER: %+v", mobile)
	}
	if resp.Enabled("AUTO_SIGN") {
		t.Error("AUTO_SIGN ENABLE before its link was followed")
	}
	if err := b.sim.ConfirmService(esssim.DefaultAppID, "org-1", "AUTO_SIGN"); err != nil {
		t.Fatal(err)
	}
	resp, err = b.client.DescribeExtendedServiceAuthInfo(ctx, &ess.DescribeExtendedServiceAuthInfoRequest{Agent: agent})
	if err != nil || !resp.Enabled("AUTO_SIGN") {
		t.Errorf("AUTO_SIGN after its link was followed: %+v, %v", resp, err)
	}

	// The transport (where the rate limiter sits) sees the action's name,
	// and the body carries only the Agent.
	seen.mu.Lock()
	last, body := seen.actions[len(seen.actions)-1], seen.bodies[len(seen.bodies)-1]
	seen.mu.Unlock()
	if last != ess.ActionDescribeExtendedServiceAuthInfo || len(body) != 1 || body["Agent"] == nil {
		t.Errorf("last request: action %q, body %v", last, body)
	}
	if n := b.sim.Stats().Total(ess.ActionDescribeExtendedServiceAuthInfo, "Success"); n != 3 {
		t.Errorf("simulator counted %d successes, want 3", n)
	}
}

func TestDescribeExtendedServiceAuthInfoErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}})
	verified(t, b, esssim.DefaultAppID, "org-1", "admin-1")
	if _, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "unverified")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		agent ess.Agent
		code  string
		class ess.Class
	}{
		{"company not verified", ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "unverified", ProxyOperator: operator("x")}, "OperationDenied", ess.ClassPermanent},
		{"operator not admin", ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "org-1", ProxyOperator: operator("clerk")}, "OperationDenied", ess.ClassPermanent},
		{"no operator", ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "org-1"}, "MissingParameter", ess.ClassPermanent},
		{"unknown application", ess.Agent{AppId: "nope", ProxyOrganizationOpenId: "org-1", ProxyOperator: operator("admin-1")}, "ResourceNotFound.Application", ess.ClassSystemic},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.client.DescribeExtendedServiceAuthInfo(ctx, &ess.DescribeExtendedServiceAuthInfoRequest{Agent: tt.agent})
			ae := apiError(t, err, tt.code, tt.class)
			if ae.Action != ess.ActionDescribeExtendedServiceAuthInfo || ae.RequestID == "" {
				t.Errorf("error %#v", ae)
			}
		})
	}
	t.Run("nil request", func(t *testing.T) {
		_, err := b.client.DescribeExtendedServiceAuthInfo(ctx, nil)
		apiError(t, err, ess.CodeInvalidParameter, ess.ClassSystemic)
	})
	t.Run("rate limited per action", func(t *testing.T) {
		frozen := time.Now()
		b := setup(t, esssim.Options{Now: func() time.Time { return frozen }, RateLimit: 2, Lifecycle: &esssim.Lifecycle{Manual: true}})
		if err := b.sim.SetStatus(esssim.DefaultAppID, esssim.DefaultQueryOrgOpenID, esssim.StatusVerified); err != nil {
			t.Fatal(err)
		}
		agent := ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: esssim.DefaultQueryOrgOpenID, ProxyOperator: operator(esssim.DefaultQueryOperatorOpenID)}
		var classes []ess.Class
		for range 3 {
			_, err := b.client.DescribeExtendedServiceAuthInfo(ctx, &ess.DescribeExtendedServiceAuthInfoRequest{Agent: agent})
			classes = append(classes, ess.ClassOf(err))
		}
		if fmt.Sprint(classes) != "[  rate_limited]" {
			t.Errorf("three calls with a limit of 2: %v", classes)
		}
		// Another action has its own budget.
		if _, err := b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "PAGING_SEAL", Operate: "OPEN"}); err != nil {
			t.Errorf("Modify after the burst: %v", err)
		}
	})
}
