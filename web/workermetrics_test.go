package web

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/jobs"
)

func TestWorkerMetricsHandler(t *testing.T) {
	t.Parallel()
	snap := jobs.MetricsSnapshot{
		Calls:          []jobs.CallCount{{Action: "SyncProxyOrganization", Code: "OK", N: 40}, {Action: "SyncProxyOrganization", Code: "InternalError", N: 2}},
		CallSeconds:    map[string]float64{"SyncProxyOrganization": 4.2},
		FailedByClass:  map[string]int64{"SyncProxyOrganization/transient": 2},
		RateRejections: map[string]int64{"ModifyExtendedService": 1},
		Transitions:    map[string]int64{"awaiting_auth": 40},
		PollCalls:      3,
		PollOrgs:       120,
	}
	rec := httptest.NewRecorder()
	lim := jobs.LimiterStats{Waits: 42, Waited: 1500 * time.Millisecond, LateSlots: 1, Refusals: 2}
	WorkerMetricsHandler(WorkerCollector{
		Snapshot: func() jobs.MetricsSnapshot { return snap },
		Limiter:  func() jobs.LimiterStats { return lim },
	}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`onboard_api_calls_total{action="SyncProxyOrganization",code="OK"} 40`,
		`onboard_api_calls_total{action="SyncProxyOrganization",code="InternalError"} 2`,
		`onboard_api_call_seconds_total{action="SyncProxyOrganization"} 4.2`,
		`onboard_api_failures_total{action="SyncProxyOrganization",class="transient"} 2`,
		`onboard_rate_limit_rejections_total{action="ModifyExtendedService"} 1`,
		`onboard_state_transitions_total{state="awaiting_auth"} 40`,
		`onboard_auth_poll_calls_total 3`,
		`onboard_auth_poll_orgs_total 120`,
		`onboard_limiter_waits_total 42`,
		`onboard_limiter_wait_seconds_total 1.5`,
		`onboard_limiter_late_slots_total 1`,
		`onboard_limiter_refusals_total 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
