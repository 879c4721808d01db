package web

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ess-onboard/onboard/jobs"
)

var (
	callsDesc = prometheus.NewDesc("onboard_api_calls_total",
		"essbasic calls made by this process's workers, by action and result code (OK for success).", []string{"action", "code"}, nil)
	callSecondsDesc = prometheus.NewDesc("onboard_api_call_seconds_total",
		"Total time of essbasic calls by action; divide by onboard_api_calls_total for the mean latency.", []string{"action"}, nil)
	failuresDesc = prometheus.NewDesc("onboard_api_failures_total",
		"Failed essbasic calls by action and error class (transient, rate_limited, permanent, systemic).", []string{"action", "class"}, nil)
	rejectionsDesc = prometheus.NewDesc("onboard_rate_limit_rejections_total",
		"RequestLimitExceeded answers from the platform, by action.", []string{"action"}, nil)
	transitionsDesc = prometheus.NewDesc("onboard_state_transitions_total",
		"Organizations moved into each onboarding state by this process's workers.", []string{"state"}, nil)
	pollCallsDesc = prometheus.NewDesc("onboard_auth_poll_calls_total",
		"DescribeChannelOrganizations calls spent on authorization polling.", nil, nil)
	pollOrgsDesc = prometheus.NewDesc("onboard_auth_poll_orgs_total",
		"Waiting companies covered by authorization polling rounds, summed over rounds.", nil, nil)
	eventToStateDesc = prometheus.NewDesc("onboard_callback_event_to_state_seconds",
		"Time from a platform event a callback told of to the company's next state.", nil, nil)
	limiterWaitsDesc = prometheus.NewDesc("onboard_limiter_waits_total",
		"Calls the shared rate limiter let through in this process.", nil, nil)
	limiterWaitedDesc = prometheus.NewDesc("onboard_limiter_wait_seconds_total",
		"Total time calls waited for their turn at the shared rate limiter.", nil, nil)
	limiterLateDesc = prometheus.NewDesc("onboard_limiter_late_slots_total",
		"Rate limiter slots given up because the caller woke up late.", nil, nil)
	limiterRefusalsDesc = prometheus.NewDesc("onboard_limiter_refusals_total",
		"Turns further away than the limiter's longest wait (the task was put back, not failed).", nil, nil)
)

// WorkerCollector exports the counters of the workers running in a process
// (jobs.Workers.Metrics().Snapshot) to Prometheus. Register it in the
// process that runs the workers, for example with WorkerMetricsHandler.
type WorkerCollector struct {
	Snapshot func() jobs.MetricsSnapshot
	// Limiter, when set, gives the shared rate limiter's counters
	// (jobs.Limiter.Stats).
	Limiter func() jobs.LimiterStats
}

// Describe implements prometheus.Collector.
func (c WorkerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{callsDesc, callSecondsDesc, failuresDesc, rejectionsDesc, transitionsDesc, pollCallsDesc, pollOrgsDesc, eventToStateDesc} {
		ch <- d
	}
	if c.Limiter != nil {
		for _, d := range []*prometheus.Desc{limiterWaitsDesc, limiterWaitedDesc, limiterLateDesc, limiterRefusalsDesc} {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector.
func (c WorkerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.Snapshot()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, cc := range s.Calls {
		counter(callsDesc, float64(cc.N), cc.Action, cc.Code)
	}
	for action, sec := range s.CallSeconds {
		counter(callSecondsDesc, sec, action)
	}
	for key, n := range s.FailedByClass {
		action, class, _ := strings.Cut(key, "/")
		counter(failuresDesc, float64(n), action, class)
	}
	for action, n := range s.RateRejections {
		counter(rejectionsDesc, float64(n), action)
	}
	for state, n := range s.Transitions {
		counter(transitionsDesc, float64(n), state)
	}
	counter(pollCallsDesc, float64(s.PollCalls))
	counter(pollOrgsDesc, float64(s.PollOrgs))
	ch <- prometheus.MustNewConstHistogram(eventToStateDesc, s.EventToStateCount, s.EventToStateSum, s.EventToState)
	if c.Limiter != nil {
		l := c.Limiter()
		counter(limiterWaitsDesc, float64(l.Waits))
		counter(limiterWaitedDesc, l.Waited.Seconds())
		counter(limiterLateDesc, float64(l.LateSlots))
		counter(limiterRefusalsDesc, float64(l.Refusals))
	}
}

// WorkerMetricsHandler serves the workers' counters (and the Go runtime's)
// for Prometheus, for a worker process that exposes its own /metrics.
func WorkerMetricsHandler(c WorkerCollector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}), c)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
