package ess_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
)

var queryAgent = ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: esssim.DefaultQueryOrgOpenID,
	ProxyOperator: &ess.UserInfo{OpenId: esssim.DefaultQueryOperatorOpenID}}

// seed syncs n companies org-0000 … through the client.
func seed(t *testing.T, b *bundle, n int) {
	t.Helper()
	for i := range n {
		if _, err := b.client.SyncProxyOrganization(context.Background(), syncReq(esssim.DefaultAppID, fmt.Sprintf("org-%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListChannelOrganizations(t *testing.T) {
	t.Parallel()
	const n = 450
	for _, tt := range []struct {
		mode  esssim.OffsetMode
		calls int
	}{
		// 451 companies with the query company. Record offsets: 0, the
		// detection call at 1, then 201 and 401. Page index: 0, 1, 2.
		{esssim.OffsetRecord, 4},
		{esssim.OffsetPage, 3},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			b := setup(t, esssim.Options{RateLimit: -1, OffsetMode: tt.mode, Lifecycle: &esssim.Lifecycle{Manual: true}})
			seed(t, b, n)
			seen := map[string]int{}
			pages := 0
			calls, err := b.client.ListChannelOrganizations(context.Background(), queryAgent, nil, func(page []ess.ChannelOrganizationInfo) error {
				pages++
				if len(page) == 0 {
					t.Error("fn called with an empty page")
				}
				for _, o := range page {
					seen[o.OrganizationOpenId]++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != n+1 {
				t.Errorf("%d companies listed, want %d", len(seen), n+1)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("%s listed %d times", id, k)
				}
			}
			for i := range n {
				if seen[fmt.Sprintf("org-%04d", i)] != 1 {
					t.Fatalf("org-%04d missing", i)
				}
			}
			if calls != tt.calls || pages != tt.calls {
				t.Errorf("%d calls, fn called %d times; want %d", calls, pages, tt.calls)
			}
			if got := b.sim.Stats().Total(ess.ActionDescribeChannelOrganizations, ""); got != calls {
				t.Errorf("simulator counted %d Describe calls, the client reported %d", got, calls)
			}
		})
	}
}

func TestListChannelOrganizationsFiltered(t *testing.T) {
	t.Parallel()
	for _, mode := range []esssim.OffsetMode{esssim.OffsetRecord, esssim.OffsetPage} {
		t.Run(string(mode), func(t *testing.T) {
			b := setup(t, esssim.Options{RateLimit: -1, OffsetMode: mode, Lifecycle: &esssim.Lifecycle{Manual: true}})
			seed(t, b, 250)
			want := map[string]bool{esssim.DefaultQueryOrgOpenID: true}
			for i := 0; i < 250; i += 2 { // 125 verified + the query company
				id := fmt.Sprintf("org-%04d", i)
				if err := b.sim.SetStatus(esssim.DefaultAppID, id, esssim.StatusVerified); err != nil {
					t.Fatal(err)
				}
				want[id] = true
			}
			got := map[string]bool{}
			_, err := b.client.ListChannelOrganizations(context.Background(), queryAgent, []string{ess.StatusVerified}, func(page []ess.ChannelOrganizationInfo) error {
				for _, o := range page {
					if o.AuthorizationStatus != ess.StatusVerified || got[o.OrganizationOpenId] {
						t.Errorf("listed %s (%s) again or with the wrong status", o.OrganizationOpenId, o.AuthorizationStatus)
					}
					got[o.OrganizationOpenId] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("%d VERIFIED companies listed, want %d", len(got), len(want))
			}
		})
	}
}

func TestListChannelOrganizationsSmallAndErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, esssim.Options{RateLimit: -1, Lifecycle: &esssim.Lifecycle{Manual: true}})
	seed(t, b, 5)
	var got int
	calls, err := b.client.ListChannelOrganizations(ctx, queryAgent, nil, func(page []ess.ChannelOrganizationInfo) error {
		got += len(page)
		return nil
	})
	if err != nil || calls != 1 || got != 6 {
		t.Errorf("one page: %d calls, %d companies, %v; want 1 call, 6 companies", calls, got, err)
	}

	// An error from fn stops the listing and comes back as is.
	seed(t, b, 300)
	stop := errors.New("stop")
	calls, err = b.client.ListChannelOrganizations(ctx, queryAgent, nil, func([]ess.ChannelOrganizationInfo) error { return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn error: %d calls, %v", calls, err)
	}

	// A platform error is an *APIError with its class.
	bad := queryAgent
	bad.ProxyOperator = &ess.UserInfo{OpenId: "not-the-admin"}
	calls, err = b.client.ListChannelOrganizations(ctx, bad, nil, func([]ess.ChannelOrganizationInfo) error { return nil })
	apiError(t, err, "OperationDenied", ess.ClassPermanent)
	if calls != 1 {
		t.Errorf("%d calls after an error", calls)
	}
}
