package ess_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
)

// BenchmarkSyncThroughSimulator measures calls per second the client and the
// simulator sustain over loopback with the rate limit off.
func BenchmarkSyncThroughSimulator(b *testing.B) {
	bd := setup(b, esssim.Options{RateLimit: -1})
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := bd.client.SyncProxyOrganization(context.Background(), syncReq(esssim.DefaultAppID, fmt.Sprint("bench-", i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkListThroughSimulator measures one listing of 2,001 companies
// (11 Describe calls with record offsets).
func BenchmarkListThroughSimulator(b *testing.B) {
	bd := setup(b, esssim.Options{RateLimit: -1})
	for i := range 2000 {
		if _, err := bd.client.SyncProxyOrganization(context.Background(), syncReq(esssim.DefaultAppID, fmt.Sprint("list-", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		calls, err := bd.client.ListChannelOrganizations(context.Background(), queryAgent, nil, func([]ess.ChannelOrganizationInfo) error { return nil })
		if err != nil || calls != 11 {
			b.Fatalf("calls %d, %v", calls, err)
		}
	}
}
