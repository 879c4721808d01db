package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/hibiken/asynq"
)

// How an organization moves (states are onboard.State*; each transition is
// recorded with its time in onboarding_events):
//
//	queued ──org:sync──► awaiting_auth ──org:await_auth──► opening_services ──org:open_service──► done
//	   │                      │  │                               │
//	   └─► failed             │  └─► timed_out (deadline)        └─► failed (a service refused)
//	                          └─► auth_rejected
//
//   - org:sync calls SyncProxyOrganization with the stored data, then (when
//     the row named an admin) CreateConsoleLoginUrl for that admin, then
//     moves the organization to awaiting_auth and makes sure its
//     application's polling is scheduled. Each step is recorded when it
//     succeeds, so a retried task goes on where the last try stopped.
//   - org:await_auth is one polling round of one application (TaskID with
//     the round number; Postgres holds the schedule). It asks one company at
//     a time when few wait, or pages through the whole list when many do.
//     VERIFIED stores the admin's and legal representative's OpenIds and
//     enqueues one org:open_service per requested service (done at once
//     when none). VERIFYINGAUTHORIZATIONFILEREJECT is final for the workers
//     (auth_rejected: someone must talk to the company); if the company
//     resubmits and is verified later, the reconciliation sweep moves it on
//     (ApplyAuthStatus accepts VERIFIED from auth_rejected and timed_out).
//   - org:open_service calls ModifyExtendedService OPEN as the super admin:
//     a link means linked (the admin must confirm within 24 hours), none
//     means opened. When no service is still requested the organization is
//     done, or failed when a service was refused.
//
// Errors follow RetryPolicy. A systemic error pauses the application:
// handlers of a paused application call nothing and leave organizations
// where they are; Resume re-enqueues them under new TaskIDs. Every task
// names the data version it was made for and does nothing once the data
// changed (a re-import queues the new version from sync).

// API is the part of the essbasic client the workers call (*ess.Client).
type API interface {
	SyncProxyOrganization(ctx context.Context, req *ess.SyncProxyOrganizationRequest) (*ess.SyncProxyOrganizationResponse, error)
	DescribeChannelOrganizations(ctx context.Context, req *ess.DescribeChannelOrganizationsRequest) (*ess.DescribeChannelOrganizationsResponse, error)
	ModifyExtendedService(ctx context.Context, req *ess.ModifyExtendedServiceRequest) (*ess.ModifyExtendedServiceResponse, error)
	CreateConsoleLoginUrl(ctx context.Context, req *ess.CreateConsoleLoginUrlRequest) (*ess.CreateConsoleLoginUrlResponse, error)
	ListChannelOrganizations(ctx context.Context, agent ess.Agent, statuses []string, fn func([]ess.ChannelOrganizationInfo) error) (calls int, err error)
}

// Store is the onboarding state the workers read and write
// (*repository.Store satisfies it). Every write names the data
// version it is about and does nothing once the data has changed.
type Store interface {
	OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error)
	Application(ctx context.Context, appID string) (*onboard.Application, error)
	RecordSynced(ctx context.Context, id int64, version int, requestID string) error
	RecordLoginURL(ctx context.Context, id int64, version int, l onboard.LoginURL) error
	RecordOrgError(ctx context.Context, id int64, version int, step string, e onboard.StepError, fail bool) error
	MarkAwaitingAuth(ctx context.Context, id int64, version int, deadline time.Time, pollDelay time.Duration) (*onboard.PollTicket, bool, error)
	EnsureAuthPoll(ctx context.Context, appID string, pollDelay, overdue time.Duration) (*onboard.PollTicket, error)
	AwaitingOrgs(ctx context.Context, appID string) ([]onboard.AwaitingOrg, error)
	CountOrgs(ctx context.Context, appID string) (int, error)
	ApplyAuthStatus(ctx context.Context, id int64, version int, ob onboard.AuthObservation, now time.Time) (onboard.AuthOutcome, error)
	FinishAuthPoll(ctx context.Context, appID string, r onboard.PollRound, minDelay, maxDelay time.Duration, stop bool) (*onboard.PollTicket, error)
	RecordService(ctx context.Context, id int64, version int, service string, r onboard.ServiceResult) (string, error)
	PauseApplication(ctx context.Context, appID, action string, e onboard.StepError) (bool, error)
	ResumeApplication(ctx context.Context, appID string) (int, []onboard.PendingOrg, error)
	RetryFailed(ctx context.Context, batchID int64) (int, []onboard.OrgVersion, error)
}

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
	// 1 minute and 1 hour.
	PollMin, PollMax time.Duration
	// RateLimitBackoff is how long every process holds off an action after
	// the platform answered RequestLimitExceeded; default 1s.
	RateLimitBackoff time.Duration
	// Policy decides retries by error class.
	Policy RetryPolicy
	// QueuePrefix is put before every queue name this process serves and
	// enqueues to, to keep separate sets of workers apart on one Redis
	// database (tests). Imports and the reconciliation sweep enqueue to the
	// plain names; "" (the default) is what they expect.
	QueuePrefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Workers handles onboard's tasks. Build it with NewWorkers.
type Workers struct {
	store   Store
	api     API
	lim     *Limiter
	enq     TaskEnqueuer
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
}

// TaskEnqueuer enqueues tasks (*asynq.Client).
type TaskEnqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// NewWorkers returns the task handlers. api's HTTP transport should go
// through lim (see LimitedTransport) so every call, including each page of a
// listing, waits for its turn.
func NewWorkers(store Store, api API, lim *Limiter, enq TaskEnqueuer, cfg Config) *Workers {
	if cfg.LoginEndpoint == "" {
		cfg.LoginEndpoint = "H5"
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 30 * 24 * time.Hour
	}
	if cfg.PollMin <= 0 {
		cfg.PollMin = time.Minute
	}
	if cfg.PollMax < cfg.PollMin {
		cfg.PollMax = max(time.Hour, cfg.PollMin)
	}
	if cfg.RateLimitBackoff <= 0 {
		cfg.RateLimitBackoff = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RateScope == nil {
		cfg.RateScope = func(appID string) string { return appID }
	}
	cfg.Policy = cfg.Policy.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Workers{store: store, api: api, lim: lim, enq: enq, cfg: cfg, log: log, metrics: newMetrics()}
}

// Queue returns the name this process uses for queue q (QueueSync...).
func (w *Workers) Queue(q string) string { return w.cfg.QueuePrefix + q }

// Metrics returns the workers' counters.
func (w *Workers) Metrics() *Metrics { return w.metrics }

// Register adds the handlers of onboard's organization tasks to mux.
func (w *Workers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeOrgSync, w.handleSync)
	mux.HandleFunc(TypeOrgAwaitAuth, w.handleAwaitAuth)
	mux.HandleFunc(TypeOrgOpenService, w.handleOpenService)
}

// result is what a task did, written with the ResultWriter so the dashboard
// shows it. Ids, codes and states only: never personal data.
type result struct {
	Outcome   string `json:"outcome"`
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

// callCtx marks ctx with the limiter scope of the application it calls for.
func (w *Workers) callCtx(ctx context.Context, appID string) context.Context {
	return withScope(ctx, w.cfg.RateScope(appID))
}

// tries returns the number of this try of the running task, 1 for the first.
func tries(ctx context.Context) int {
	n, _ := asynq.GetRetryCount(ctx)
	return n + 1
}

func stepError(err error) onboard.StepError {
	var ae *ess.APIError
	if errors.As(err, &ae) {
		return onboard.StepError{Code: ae.Code, Message: ae.Message, RequestID: ae.RequestID}
	}
	return onboard.StepError{Code: "onboard.Error", Message: err.Error()}
}

// onCallError applies the retry policy to a failed call made for org (nil
// for calls not about one organization) in step: it records the error,
// fails the organization, pauses the application or backs everyone off, and
// returns what the handler returns to asynq. failOrg says whether a final
// failure fails the organization (false: only record the error).
func (w *Workers) onCallError(ctx context.Context, t *asynq.Task, appID, action string, org *onboard.Org, step string, err error, failOrg bool, res *result) error {
	d := w.cfg.Policy.Decide(err, tries(ctx))
	se := stepError(err)
	res.Code, res.RequestID = se.Code, se.RequestID
	w.metrics.callError(action, d.Class)
	switch d.Outcome {
	case Snooze:
		if d.Class == ess.ClassRateLimited && !isWait(err) {
			w.metrics.rejected(action)
			if berr := w.lim.Backoff(ctx, w.cfg.RateScope(appID), action, w.cfg.RateLimitBackoff); berr != nil {
				w.log.Warn("shared back-off", "err", berr)
			}
			d.Delay = max(d.Delay, w.cfg.RateLimitBackoff)
		}
		res.Outcome = "snoozed"
		writeResult(t, *res)
		return snooze(err, d.Delay)
	case Pause:
		paused, perr := w.store.PauseApplication(ctx, appID, action, se)
		if perr != nil {
			return retryAfter(perr, w.cfg.Policy.Backoff(1))
		}
		if paused {
			w.log.Error("application paused", "app_id", appID, "action", action, "code", se.Code, "request_id", se.RequestID)
		}
		res.Outcome = "application paused"
		writeResult(t, *res)
		return nil
	case Fail:
		if org != nil {
			if rerr := w.store.RecordOrgError(ctx, org.ID, org.DataVersion, step, se, failOrg); rerr != nil {
				return retryAfter(rerr, w.cfg.Policy.Backoff(1))
			}
		}
		res.Outcome = "failed"
		if failOrg {
			res.State = onboard.StateFailed
		}
		writeResult(t, *res)
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	default: // Retry
		if org != nil {
			if rerr := w.store.RecordOrgError(ctx, org.ID, org.DataVersion, step, se, false); rerr != nil {
				w.log.Warn("record error", "org_id", org.ID, "err", rerr)
			}
		}
		res.Outcome = "will retry"
		writeResult(t, *res)
		return retryAfter(err, d.Delay)
	}
}

func isWait(err error) bool {
	var we *WaitError
	return errors.As(err, &we)
}

// queryIdentity returns app's query identity: the one stored with the
// application, else the configured one.
func (w *Workers) queryIdentity(app *onboard.Application) (QueryIdentity, bool) {
	if app.QueryOrgOpenID != "" && app.QueryOperatorOpenID != "" {
		return QueryIdentity{app.QueryOrgOpenID, app.QueryOperatorOpenID}, true
	}
	q, ok := w.cfg.QueryIdentities[app.AppID]
	return q, ok && q.OrgOpenID != "" && q.OperatorOpenID != ""
}

// enqueuePoll enqueues the polling round a ticket names. A round already in
// the queue is not an error.
func (w *Workers) enqueuePoll(ctx context.Context, t *onboard.PollTicket) error {
	if t == nil {
		return nil
	}
	_, err := w.enq.EnqueueContext(ctx, NewAuthPollTask(t.AppID, t.Round), asynq.ProcessAt(t.At), asynq.Queue(w.Queue(QueueAuth)))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue polling round %d of %s: %w", t.Round, t.AppID, err)
	}
	return nil
}

// enqueueServices enqueues one org:open_service task per service.
func (w *Workers) enqueueServices(ctx context.Context, orgID int64, version int, services []string, generation int) error {
	for _, s := range services {
		_, err := w.enq.EnqueueContext(ctx, NewOpenServiceTask(orgID, version, s, generation), asynq.Queue(w.Queue(QueueService)))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue %s of organization %d: %w", s, orgID, err)
		}
	}
	return nil
}
