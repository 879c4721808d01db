package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
)

// How work flows (the state machine itself is in package onboard, as pure
// functions; machine.go there has the picture):
//
//   - Every state change that needs a follow-up records the work that is
//     due in Postgres, in the same transaction: an import the sync of each
//     new or changed company, a sync its console link or its wait for
//     authorization, a verification each requested service, a failed try
//     its retry after back-off.
//   - The Dispatcher moves due work into asynq under deterministic TaskIDs
//     (work id and attempt), a window of it per application and kind at a
//     time, and hands out again work whose task vanished or overran its
//     lease. Redis losing everything, or a crash between two steps, costs a
//     lease, not a company.
//   - A handler claims its work (a task of an older attempt finds nothing),
//     calls the platform once, and ends the work in the transaction that
//     records the outcome and the next step. Errors follow
//     onboard.RetryPolicy by class: a permanent data error fails the
//     company, a transient one retries for up to the budget, a systemic one
//     pauses the application (its work waits for resume), and onboard's own
//     servers being unreachable uses up nothing.

// API is the part of the essbasic client the workers call (*ess.Client).
type API interface {
	SyncProxyOrganization(ctx context.Context, req *ess.SyncProxyOrganizationRequest) (*ess.SyncProxyOrganizationResponse, error)
	DescribeChannelOrganizations(ctx context.Context, req *ess.DescribeChannelOrganizationsRequest) (*ess.DescribeChannelOrganizationsResponse, error)
	ModifyExtendedService(ctx context.Context, req *ess.ModifyExtendedServiceRequest) (*ess.ModifyExtendedServiceResponse, error)
	CreateConsoleLoginUrl(ctx context.Context, req *ess.CreateConsoleLoginUrlRequest) (*ess.CreateConsoleLoginUrlResponse, error)
	DescribeExtendedServiceAuthInfo(ctx context.Context, req *ess.DescribeExtendedServiceAuthInfoRequest) (*ess.DescribeExtendedServiceAuthInfoResponse, error)
	ListChannelOrganizations(ctx context.Context, agent ess.Agent, statuses []string, fn func([]ess.ChannelOrganizationInfo) error) (calls int, err error)
}

// WorkStore is what every handler needs to hold its work and hand it back
// (*repository.Store satisfies it, and every store interface below).
type WorkStore interface {
	// ClaimWork starts work id as dispatched in attempt and holds it for
	// lease; onboard.ErrStale when it moved on, onboard.ErrPaused when its
	// application is paused (the work was handed back).
	ClaimWork(ctx context.Context, id int64, attempt int, now time.Time, lease time.Duration) (onboard.Work, error)
	ExtendLease(ctx context.Context, w onboard.Work, until time.Time) error
	// EndWork ends work that has nothing left to do.
	EndWork(ctx context.Context, w onboard.Work) error
	RetryWork(ctx context.Context, w onboard.Work, d onboard.RetryDecision, step string, e *onboard.StepError, now time.Time) error
	PauseApplication(ctx context.Context, appID, action string, e onboard.StepError, now time.Time) (bool, error)
}

// Store is everything the workers read and write: the union of the
// handlers' own interfaces.
type Store interface {
	WorkStore
	SyncStore
	PollStore
	ServiceStore
	CheckStore
	VerifyStore
	DispatchStore
	ResumeApplication(ctx context.Context, appID string, now time.Time) (int, error)
	ResumePolling(ctx context.Context, appID string, now time.Time) error
	RetryFailed(ctx context.Context, batchID int64, now time.Time) (int, error)
}

func isStale(err error) bool  { return errors.Is(err, onboard.ErrStale) }
func isPaused(err error) bool { return errors.Is(err, onboard.ErrPaused) }

// QueryIdentity is the verified company and operator an application's
// DescribeChannelOrganizations calls act as.
type QueryIdentity struct {
	OrgOpenID      string
	OperatorOpenID string
}

// Config configures the workers. Zero values take the documented defaults.
type Config struct {
	// RateScope returns the rate limiter scope of an application's calls:
	// the application itself (nil, the default) or, when the platform counts
	// per credential, CredentialScope(secretID) for every application.
	RateScope func(appID string) string
	// QueryIdentities are the query identities from the configuration, by
	// application; one stored with the application (SetQueryIdentity) wins.
	QueryIdentities map[string]QueryIdentity
	// LoginEndpoint is the CreateConsoleLoginUrl Endpoint; default "H5"
	// (a mobile link that lives 30 days; "PC" links live 5 minutes).
	LoginEndpoint string
	// ServiceEndpoint is the ModifyExtendedService Endpoint; "" is the
	// platform's default (WEIXINAPP).
	ServiceEndpoint string
	// AuthTimeout is how long a company may take to verify itself before it
	// is timed_out; default 30 days.
	AuthTimeout time.Duration
	// PollMin and PollMax bound the pause between polling rounds; it
	// doubles for every round in a row in which nothing changed. Defaults
	// 1 minute and 1 hour. They bound the pause between checks of a
	// company's services too (onboard.CheckDelay).
	PollMin, PollMax time.Duration
	// PollWithCallbacks is the shortest pause between polling rounds of an
	// application while its callbacks arrive (one arrived within twice
	// this); default 30 minutes.
	PollWithCallbacks time.Duration
	// AdminTimeout is how long an admin may take to open the service links
	// (links are renewed meanwhile) before the company is timed_out;
	// default 30 days.
	AdminTimeout time.Duration
	// RateLimitBackoff is how long every process holds off an action after
	// the platform answered RequestLimitExceeded; default 1s.
	RateLimitBackoff time.Duration
	// Policy decides retries by error class.
	Policy onboard.RetryPolicy
	// Lease is how long a running task holds its work between two
	// heartbeats before the dispatcher hands it out again; default 30s.
	Lease time.Duration
	// QueuePrefix is put before every queue name this process serves and
	// enqueues to, to keep separate sets of workers apart on one Redis
	// database.
	QueuePrefix string
	// Retention of finished tasks in Redis; default DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.LoginEndpoint == "" {
		c.LoginEndpoint = "H5"
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 30 * 24 * time.Hour
	}
	if c.PollWithCallbacks <= 0 {
		c.PollWithCallbacks = 30 * time.Minute
	}
	if c.AdminTimeout <= 0 {
		c.AdminTimeout = 30 * 24 * time.Hour
	}
	if c.PollMin <= 0 {
		c.PollMin = time.Minute
	}
	if c.PollMax < c.PollMin {
		c.PollMax = max(time.Hour, c.PollMin)
	}
	if c.RateLimitBackoff <= 0 {
		c.RateLimitBackoff = time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RateScope == nil {
		c.RateScope = func(appID string) string { return appID }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Policy = c.Policy.WithDefaults()
	return c
}

// Workers is one process's handlers, dispatcher and queue. Build it with
// NewWorkers.
type Workers struct {
	store   Store
	api     API
	lim     *Limiter
	queue   *Queue
	cfg     Config
	log     *slog.Logger
	metrics *Metrics

	sync    *syncHandler
	poll    *pollHandler
	service *serviceHandler
	check   *checkHandler
	verify  *verifyHandler
}

// NewWorkers returns the task handlers. api's HTTP transport should go
// through lim (see LimitedTransport) so every call, including each page of a
// listing, waits for its turn.
func NewWorkers(store Store, api API, lim *Limiter, enq TaskEnqueuer, cfg Config) *Workers {
	cfg = cfg.withDefaults()
	w := &Workers{store: store, api: api, lim: lim, cfg: cfg, log: cfg.Logger, metrics: newMetrics(),
		queue: &Queue{Client: enq, Prefix: cfg.QueuePrefix, Retention: cfg.Retention}}
	r := &runner{store: store, cfg: cfg, log: cfg.Logger, metrics: w.metrics, lim: lim}
	w.sync = &syncHandler{runner: r, store: store, api: api}
	w.poll = &pollHandler{runner: r, store: store, api: api}
	w.service = &serviceHandler{runner: r, store: store, api: api}
	w.check = &checkHandler{runner: r, store: store, api: api}
	w.verify = &verifyHandler{runner: r, store: store, api: api}
	return w
}

// Queue returns the name this process uses for queue q (QueueSync...).
func (w *Workers) Queue(q string) string { return w.queue.Name(q) }

// Enqueuer returns the one path this process's tasks take into Redis.
func (w *Workers) Enqueuer() *Queue { return w.queue }

// Metrics returns the workers' counters.
func (w *Workers) Metrics() *Metrics { return w.metrics }

// Register adds the handlers of onboard's work tasks to mux.
func (w *Workers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeOrgSync, w.sync.runner.handle("sync", w.sync.sync))
	mux.HandleFunc(TypeOrgLoginURL, w.sync.runner.handle("login_url", w.sync.login))
	mux.HandleFunc(TypeOrgAwaitAuth, w.poll.runner.handle("auth", w.poll.round))
	mux.HandleFunc(TypeOrgOpenService, w.service.runner.handle("service", w.service.open))
	mux.HandleFunc(TypeOrgCheckServices, w.check.runner.handle("check", w.check.check))
	mux.HandleFunc(TypeOrgVerify, w.verify.runner.handle("verify", w.verify.verify))
}

// NewDispatcher returns the dispatcher of this process's work, with the
// windows and leases its rate limit calls for.
func (w *Workers) NewDispatcher(rate float64, interval time.Duration) *Dispatcher {
	return &Dispatcher{Store: w.store, Queue: w.queue, Rate: rate, Interval: interval, Now: w.cfg.Now, Logger: w.log}
}

// ResumeResult says what a resume made due again.
type ResumeResult struct {
	Due int // work of the application due now
}

// Resume clears appID's pause (and its batches' blocked reasons). Its work
// was never taken away: the dispatcher hands it out again, each step from
// where it stopped; a polling round is made due when companies wait.
// Resuming an application that is not paused changes nothing.
func (w *Workers) Resume(ctx context.Context, appID string) (ResumeResult, error) {
	now := w.cfg.Now()
	if err := w.store.ResumePolling(ctx, appID, now); err != nil {
		return ResumeResult{}, err
	}
	n, err := w.store.ResumeApplication(ctx, appID, now)
	return ResumeResult{Due: n}, err
}

// RetryFailed starts the failed organizations of a batch again from sync
// (due now). It returns how many.
func (w *Workers) RetryFailed(ctx context.Context, batchID int64) (int, error) {
	return w.store.RetryFailed(ctx, batchID, w.cfg.Now())
}

// result is what a task did, written with the ResultWriter so the dashboard
// shows it. Ids, codes and states only: never personal data.
type result struct {
	Outcome   string `json:"outcome"`
	WorkID    int64  `json:"work_id,omitempty"`
	Attempt   int    `json:"attempt,omitempty"`
	OrgID     int64  `json:"org_id,omitempty"`
	AppID     string `json:"app_id,omitempty"`
	State     string `json:"state,omitempty"`
	Service   string `json:"service,omitempty"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Calls     int    `json:"calls,omitempty"`
	Mode      string `json:"mode,omitempty"`
	Waiting   int    `json:"waiting,omitempty"`
	Changed   int    `json:"changed,omitempty"`
	Next      string `json:"next,omitempty"`
}

func writeResult(t *asynq.Task, r result) {
	if t.ResultWriter() == nil {
		return
	}
	b, _ := json.Marshal(r)
	_, _ = t.ResultWriter().Write(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("jobs: marshal %T: %v", v, err))
	}
	return b
}

// queryIdentity returns app's query identity: the one stored with the
// application, else the configured one.
func (c Config) queryIdentity(app *onboard.Application) (QueryIdentity, bool) {
	if app.QueryOrgOpenID != "" && app.QueryOperatorOpenID != "" {
		return QueryIdentity{app.QueryOrgOpenID, app.QueryOperatorOpenID}, true
	}
	q, ok := c.QueryIdentities[app.AppID]
	return q, ok && q.OrgOpenID != "" && q.OperatorOpenID != ""
}
