package jobs

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ess-onboard/onboard/ess"
)

// Metrics counts what the workers did, for /metrics and for reports: calls
// by action and result code, their total duration, rate-limit rejections,
// state transitions, and what authorization polling cost.
type Metrics struct {
	mu          sync.Mutex
	calls       map[[2]string]int64 // (action, code or "OK")
	seconds     map[string]float64  // total call time by action
	classes     map[[2]string]int64 // (action, class) of failed calls
	rejections  map[string]int64
	transitions map[string]int64
	pollCalls   atomic.Int64
	pollOrgs    atomic.Int64
	// eventToState: seconds from a platform event a callback told of to
	// the company's next state, by bucket upper bound.
	eventToState      map[float64]uint64
	eventToStateCount uint64
	eventToStateSum   float64
}

// EventToStateBuckets are the upper bounds (seconds) of the histogram of
// the time from a platform event a callback told of to the company's next
// state.
var EventToStateBuckets = []float64{0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}

func (m *Metrics) eventToStateObserved(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eventToState == nil {
		m.eventToState = map[float64]uint64{}
	}
	sec := d.Seconds()
	for _, b := range EventToStateBuckets {
		if sec <= b {
			m.eventToState[b]++
		}
	}
	m.eventToStateCount++
	m.eventToStateSum += sec
}

func newMetrics() *Metrics {
	return &Metrics{calls: map[[2]string]int64{}, seconds: map[string]float64{}, classes: map[[2]string]int64{},
		rejections: map[string]int64{}, transitions: map[string]int64{}}
}

func (m *Metrics) call(action string, d time.Duration, err error) {
	code := "OK"
	var ae *ess.APIError
	if errors.As(err, &ae) {
		code = ae.Code
	} else if err != nil {
		code = "error"
	}
	m.mu.Lock()
	m.calls[[2]string{action, code}]++
	m.seconds[action] += d.Seconds()
	m.mu.Unlock()
}

func (m *Metrics) callError(action, class string) {
	m.mu.Lock()
	m.classes[[2]string{action, class}]++
	m.mu.Unlock()
}

func (m *Metrics) rejected(action string) {
	m.mu.Lock()
	m.rejections[action]++
	m.mu.Unlock()
}

func (m *Metrics) transition(to string) {
	m.mu.Lock()
	m.transitions[to]++
	m.mu.Unlock()
}

// CallCount is the number of calls of one action that ended with one code
// ("OK" for success).
type CallCount struct {
	Action, Code string
	N            int64
}

// MetricsSnapshot is a copy of the counters.
type MetricsSnapshot struct {
	Calls          []CallCount
	CallSeconds    map[string]float64 // total duration of calls by action
	FailedByClass  map[string]int64   // "action/class" → failed calls
	RateRejections map[string]int64   // RequestLimitExceeded answers by action
	Transitions    map[string]int64   // organizations moved into each state
	PollCalls      int64              // DescribeChannelOrganizations calls spent polling
	PollOrgs       int64              // waiting companies those calls covered, summed over rounds
	// EventToState is the histogram of the time from a platform event a
	// callback told of to the company's next state: cumulative counts by
	// bucket (EventToStateBuckets), the count and the sum of seconds.
	EventToState      map[float64]uint64
	EventToStateCount uint64
	EventToStateSum   float64
}

// Snapshot returns a copy of the counters.
func (m *Metrics) Snapshot() MetricsSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := MetricsSnapshot{CallSeconds: map[string]float64{}, FailedByClass: map[string]int64{},
		RateRejections: map[string]int64{}, Transitions: map[string]int64{},
		PollCalls: m.pollCalls.Load(), PollOrgs: m.pollOrgs.Load()}
	for k, n := range m.calls {
		s.Calls = append(s.Calls, CallCount{Action: k[0], Code: k[1], N: n})
	}
	sort.Slice(s.Calls, func(i, j int) bool {
		if s.Calls[i].Action != s.Calls[j].Action {
			return s.Calls[i].Action < s.Calls[j].Action
		}
		return s.Calls[i].Code < s.Calls[j].Code
	})
	for k, v := range m.seconds {
		s.CallSeconds[k] = v
	}
	for k, v := range m.classes {
		s.FailedByClass[k[0]+"/"+k[1]] = v
	}
	for k, v := range m.rejections {
		s.RateRejections[k] = v
	}
	for k, v := range m.transitions {
		s.Transitions[k] = v
	}
	s.EventToState = map[float64]uint64{}
	for k, v := range m.eventToState {
		s.EventToState[k] = v
	}
	s.EventToStateCount, s.EventToStateSum = m.eventToStateCount, m.eventToStateSum
	return s
}
