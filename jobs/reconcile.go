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

// ReconcileStore is what the reconciliation sweep reads and writes
// (*repository.Store satisfies it).
type ReconcileStore interface {
	// TryLockReconcile takes the application's sweep lock; ok is false when
	// another sweep holds it.
	TryLockReconcile(ctx context.Context, appID string) (unlock func(), ok bool, err error)
	StartReconcileRun(ctx context.Context, appID, trigger string) (int64, error)
	FinishReconcileRun(ctx context.Context, r *onboard.ReconcileRun, drift []onboard.Drift) error
	// KnownOrgs returns the organizations of appID among openIDs.
	KnownOrgs(ctx context.Context, appID string, openIDs []string) ([]onboard.KnownOrg, error)
	// UpdatePlatformStatus stores the status and OpenIds the platform
	// reported for verified organizations and returns how many changed.
	UpdatePlatformStatus(ctx context.Context, ups []onboard.PlatformUpdate) (int, error)
	// PendingTasks lists appID's work that should have a task in the queue:
	// queued organizations whose sync task was recorded as enqueued, and the
	// requested services of organizations opening services.
	PendingTasks(ctx context.Context, appID string) ([]onboard.PendingTask, error)
	// RenewExpiredLinks puts the linked services of appID whose link expired
	// before now back to requested (their organization back to
	// opening_services) and returns them.
	RenewExpiredLinks(ctx context.Context, appID string, now time.Time) ([]onboard.ExpiredLink, error)
	// PollState is appID's authorization polling schedule.
	PollState(ctx context.Context, appID string) (onboard.PollState, error)
	// UnenqueuedOrgs lists queued organizations whose sync task was never
	// recorded as enqueued (a crash between commit and enqueue).
	UnenqueuedOrgs(ctx context.Context, appID string) ([]onboard.OrgVersion, error)
	MarkEnqueued(ctx context.Context, items []onboard.OrgVersion) error
	// ReconcileAppIDs lists every application onboard has organizations of.
	ReconcileAppIDs(ctx context.Context) ([]string, error)
}

// SweepReport is what one sweep did.
type SweepReport struct {
	onboard.ReconcileRun
	Skipped bool            `json:"skipped,omitempty"` // another sweep of the application was running
	Drift   []onboard.Drift `json:"drift"`
}

// ErrSweepRunning means another sweep of the application holds its lock.
var ErrSweepRunning = errors.New("a reconciliation sweep of this application is already running")

// DefaultStale is how long pending work may sit with a finished task before
// the sweep runs it again.
const DefaultStale = 30 * time.Minute

// Reconciler runs reconciliation sweeps: it brings every organization's
// authorization status up to date from the platform's bulk listing, reports
// drift, enqueues lost or stuck work again under its deterministic TaskIDs,
// and asks again for service links that expired. One sweep per application
// runs at a time, however many processes try; a sweep is safe while workers
// run, and running it twice changes nothing the first did not.
type Reconciler struct {
	// Workers apply authorization statuses and enqueue service requests and
	// polling rounds exactly as the polling task does.
	Workers *Workers
	Store   ReconcileStore
	// Inspector looks tasks up by TaskID.
	Inspector *asynq.Inspector
	// Stale is how long work may sit with a completed or archived task
	// before it is enqueued again; 0 means DefaultStale.
	Stale time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// ReconcilePayload is the payload of reconcile:sweep. An empty AppID sweeps
// every application.
type ReconcilePayload struct {
	AppID string `json:"app_id,omitempty"`
}

// NewReconcileTask builds a reconcile:sweep task for appID ("" for every
// application). The scheduler enqueues one per tick; one that cannot run
// because a sweep is running is simply dropped.
func NewReconcileTask(appID string) *asynq.Task {
	payload, _ := json.Marshal(ReconcilePayload{AppID: appID})
	return asynq.NewTask(TypeReconcileSweep, payload,
		asynq.Queue(QueueReconcile),
		asynq.MaxRetry(2),
		asynq.Timeout(30*time.Minute),
		asynq.Retention(taskRetention),
	)
}

// RegisterReconcile adds the reconcile:sweep handler to mux.
func RegisterReconcile(mux *asynq.ServeMux, r *Reconciler) {
	mux.Handle(TypeReconcileSweep, r)
}

// ProcessTask handles reconcile:sweep.
func (r *Reconciler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ReconcilePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("reconcile:sweep payload: %v: %w", err, asynq.SkipRetry)
	}
	var reports []SweepReport
	var err error
	if p.AppID != "" {
		var rep *SweepReport
		rep, err = r.Sweep(ctx, p.AppID, "schedule")
		if rep != nil {
			reports = append(reports, *rep)
		}
	} else {
		reports, err = r.SweepAll(ctx, "schedule")
	}
	type summary struct {
		AppID    string `json:"app_id"`
		Skipped  bool   `json:"skipped,omitempty"`
		Pages    int    `json:"pages"`
		Changes  int    `json:"changes"`
		Requeued int    `json:"requeued"`
		Drift    int    `json:"drift"`
		Error    string `json:"error,omitempty"`
	}
	out := make([]summary, 0, len(reports))
	for _, rep := range reports {
		out = append(out, summary{rep.AppID, rep.Skipped, rep.Pages, rep.StatusUpdates + rep.Requeued + rep.LinksRenewed,
			rep.Requeued, rep.UnknownOrgs + rep.Mismatched, rep.Error})
	}
	if b, jerr := json.Marshal(out); jerr == nil && t.ResultWriter() != nil {
		_, _ = t.ResultWriter().Write(b)
	}
	return err
}

// SweepAll sweeps every application in turn. An application whose sweep is
// already running elsewhere is reported as skipped.
func (r *Reconciler) SweepAll(ctx context.Context, trigger string) ([]SweepReport, error) {
	apps, err := r.Store.ReconcileAppIDs(ctx)
	if err != nil {
		return nil, err
	}
	var reports []SweepReport
	var errs []error
	for _, app := range apps {
		rep, err := r.Sweep(ctx, app, trigger)
		if rep != nil {
			reports = append(reports, *rep)
		}
		if err != nil && !errors.Is(err, ErrSweepRunning) {
			errs = append(errs, fmt.Errorf("application %s: %w", app, err))
		}
	}
	return reports, errors.Join(errs...)
}

func (r *Reconciler) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Reconciler) stale() time.Duration {
	if r.Stale > 0 {
		return r.Stale
	}
	return DefaultStale
}

// Sweep reconciles one application now. It returns ErrSweepRunning (with a
// report marked Skipped) when another sweep of appID holds the lock. The
// run is recorded whether it succeeds or not; an error from the platform's
// listing is kept in the report and the repairs still run.
func (r *Reconciler) Sweep(ctx context.Context, appID, trigger string) (*SweepReport, error) {
	unlock, ok, err := r.Store.TryLockReconcile(ctx, appID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &SweepReport{ReconcileRun: onboard.ReconcileRun{AppID: appID, Trigger: trigger}, Skipped: true}, ErrSweepRunning
	}
	defer unlock()
	w := r.Workers
	rep := &SweepReport{ReconcileRun: onboard.ReconcileRun{AppID: appID, Trigger: trigger, StartedAt: w.cfg.Now()}, Drift: []onboard.Drift{}}
	if rep.ID, err = r.Store.StartReconcileRun(ctx, appID, trigger); err != nil {
		return nil, err
	}
	var errs []error
	app, err := w.store.Application(ctx, appID)
	switch {
	case err != nil:
		errs = append(errs, err)
	case !app.PausedAt.IsZero():
		// A paused application's work waits for resume, which enqueues it
		// all again; the sweep neither calls the platform nor repairs.
		rep.Error = fmt.Sprintf("application paused (%s %s); run 'onboard resume --app-id %s' once the cause is fixed",
			app.PauseAction, app.PauseCode, appID)
	default:
		if err := r.list(ctx, app, rep); err != nil {
			rep.Error = "listing: " + err.Error()
			r.log().Warn("reconcile: listing the platform's companies failed; repairing anyway", "app", appID, "error", err)
		}
		if err := r.repair(ctx, appID, rep); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if rep.Error != "" {
			rep.Error += "; "
		}
		rep.Error += err.Error()
	}
	rep.FinishedAt = w.cfg.Now()
	// Record the run even when ctx has ended.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := r.Store.FinishReconcileRun(fctx, &rep.ReconcileRun, rep.Drift); ferr != nil {
		errs = append(errs, ferr)
	}
	return rep, errors.Join(errs...)
}

// list pages through the application's companies on the platform, applies
// every status and records the drift.
func (r *Reconciler) list(ctx context.Context, app *onboard.Application, rep *SweepReport) error {
	w := r.Workers
	q, ok := w.queryIdentity(app)
	if !ok {
		return fmt.Errorf("no query identity for application %s: set one with 'onboard resume --app-id %s --query-org-openid ID --query-operator-openid ID' (or ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID)", app.AppID, app.AppID)
	}
	agent := ess.Agent{AppId: app.AppID, ProxyOrganizationOpenId: q.OrgOpenID, ProxyOperator: &ess.UserInfo{OpenId: q.OperatorOpenID}}
	now := w.cfg.Now()
	page := func(infos []ess.ChannelOrganizationInfo) error {
		rep.PlatformOrgs += len(infos)
		ids := make([]string, len(infos))
		for i, info := range infos {
			ids[i] = info.OrganizationOpenId
		}
		known, err := r.Store.KnownOrgs(ctx, app.AppID, ids)
		if err != nil {
			return err
		}
		byOpenID := make(map[string]onboard.KnownOrg, len(known))
		for _, k := range known {
			byOpenID[k.OpenID] = k
		}
		var ups []onboard.PlatformUpdate
		for _, info := range infos {
			k, ok := byOpenID[info.OrganizationOpenId]
			if !ok {
				if info.OrganizationOpenId != q.OrgOpenID {
					rep.UnknownOrgs++
					rep.Drift = append(rep.Drift, onboard.Drift{OpenID: info.OrganizationOpenId, Kind: onboard.DriftUnknown, Platform: info.OrganizationName})
				}
				continue
			}
			if info.OrganizationName != "" && info.OrganizationName != k.Name {
				rep.Mismatched++
				rep.Drift = append(rep.Drift, onboard.Drift{OpenID: k.OpenID, Kind: onboard.DriftName, Ours: k.Name, Platform: info.OrganizationName})
			}
			if info.UnifiedSocialCreditCode != "" && k.CreditCode != "" && info.UnifiedSocialCreditCode != k.CreditCode {
				rep.Mismatched++
				rep.Drift = append(rep.Drift, onboard.Drift{OpenID: k.OpenID, Kind: onboard.DriftCreditCode, Ours: k.CreditCode, Platform: info.UnifiedSocialCreditCode})
			}
			switch k.State {
			case onboard.StateAwaitingAuth, onboard.StateAuthRejected, onboard.StateTimedOut:
				changed, err := w.applyStatus(ctx, k.ID, k.DataVersion, info, now)
				if err != nil {
					return err
				}
				if changed {
					rep.StatusUpdates++
					switch info.AuthorizationStatus {
					case ess.StatusVerified:
						rep.Verified++
					case ess.StatusVerifyingFileRejected:
						rep.Rejected++
					}
				}
			case onboard.StateOpeningServices, onboard.StateDone, onboard.StateFailed:
				if info.AuthorizationStatus != k.AuthStatus || nonEmptyDiffers(info.OrganizationId, k.PlatformOrgID) ||
					nonEmptyDiffers(info.AdminOpenId, k.AdminOpenID) || nonEmptyDiffers(info.LegalOpenId, k.LegalOpenID) {
					ups = append(ups, onboard.PlatformUpdate{ID: k.ID, DataVersion: k.DataVersion, Status: info.AuthorizationStatus,
						PlatformOrgID: info.OrganizationId, AdminOpenID: info.AdminOpenId, LegalOpenID: info.LegalOpenId})
				}
			}
		}
		if len(ups) > 0 {
			n, err := r.Store.UpdatePlatformStatus(ctx, ups)
			rep.StatusUpdates += n
			if err != nil {
				return err
			}
		}
		return nil
	}
	// The rate limiter may refuse a call whose wait would be long: wait
	// that long and list again (pages already applied apply as no-ops).
	for attempt := 1; ; attempt++ {
		cctx := w.callCtx(ctx, app.AppID)
		calls, err := w.api.ListChannelOrganizations(cctx, agent, nil, page)
		rep.Pages += calls
		if err == nil {
			return nil
		}
		var we *WaitError
		if wr := limiterRefusal(cctx); wr != nil {
			we = wr
		} else if !errors.As(err, &we) {
			return w.callErr(cctx, err)
		}
		if attempt >= 5 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(we.Delay):
		}
		rep.PlatformOrgs = 0
		rep.Drift, rep.UnknownOrgs, rep.Mismatched = rep.Drift[:0], 0, 0
	}
}

func nonEmptyDiffers(platform, ours string) bool { return platform != "" && platform != ours }

// repair enqueues again whatever pending work has no live task, and asks
// again for links that expired.
func (r *Reconciler) repair(ctx context.Context, appID string, rep *SweepReport) error {
	w := r.Workers
	app, err := w.store.Application(ctx, appID)
	if err != nil {
		return err
	}
	gen := app.Resumes
	now := w.cfg.Now()

	// Crash between the import's commit and its enqueue.
	lost, err := r.Store.UnenqueuedOrgs(ctx, appID)
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		n, err := r.enqueueSync(ctx, lost)
		rep.Requeued += n
		if err != nil {
			return err
		}
	}

	// Links that expired while the service is still not open.
	expired, err := r.Store.RenewExpiredLinks(ctx, appID, now)
	if err != nil {
		return err
	}
	renewed := make(map[[2]any]bool, len(expired))
	for _, l := range expired {
		renewed[[2]any{l.OrgID, l.Service}] = true
	}

	pending, err := r.Store.PendingTasks(ctx, appID)
	if err != nil {
		return err
	}
	for _, p := range pending {
		var queue string
		var build taskBuilder
		switch p.State {
		case onboard.StateQueued:
			queue = QueueSync
			build = func(g int) (string, *asynq.Task) {
				if g == 0 {
					return SyncTaskID(p.OrgID, p.DataVersion), NewSyncTask(p.OrgID, p.DataVersion)
				}
				return ResyncTaskID(p.OrgID, p.DataVersion, g), NewResyncTask(p.OrgID, p.DataVersion, g)
			}
		case onboard.StateOpeningServices:
			queue = QueueService
			build = func(g int) (string, *asynq.Task) {
				return OpenServiceTaskID(p.OrgID, p.DataVersion, p.Service, g), NewOpenServiceTask(p.OrgID, p.DataVersion, p.Service, g)
			}
		default:
			continue
		}
		force := renewed[[2]any{p.OrgID, p.Service}]
		stuck := now.Sub(p.ChangedAt) > r.stale()
		did, err := r.ensureTask(ctx, queue, gen, build, force || stuck)
		if err != nil {
			return err
		}
		if did {
			if force {
				rep.LinksRenewed++
			} else {
				rep.Requeued++
			}
		}
	}

	// Authorization polling: the scheduled round's task must exist.
	ps, err := r.Store.PollState(ctx, appID)
	if err != nil {
		return err
	}
	if ps.Waiting > 0 {
		if !ps.Scheduled {
			t, err := w.store.EnsureAuthPoll(ctx, appID, 0, 0)
			if err != nil {
				return err
			}
			if t != nil {
				if err := w.enqueuePoll(ctx, t); err != nil {
					return err
				}
				rep.Requeued++
			}
		} else {
			at := ps.NextAt
			stuck := now.Sub(at) > r.stale()
			did, err := r.ensureTask(ctx, QueueAuth, 0, func(int) (string, *asynq.Task) {
				return AuthPollTaskID(appID, ps.Round), NewAuthPollTask(appID, ps.Round)
			}, stuck,
				asynq.ProcessAt(at))
			if err != nil {
				return err
			}
			if did {
				rep.Requeued++
			}
		}
	}
	return nil
}

// enqueueSync enqueues org:sync tasks for items and records them.
func (r *Reconciler) enqueueSync(ctx context.Context, items []onboard.OrgVersion) (int, error) {
	n := 0
	var done []onboard.OrgVersion
	var ferr error
	for _, it := range items {
		_, err := r.Workers.enq.EnqueueContext(ctx, NewSyncTask(it.OrgID, it.DataVersion))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			ferr = fmt.Errorf("enqueue org:sync of organization %d: %w", it.OrgID, err)
			break
		}
		if err == nil {
			n++
		}
		done = append(done, it)
	}
	if len(done) > 0 {
		if err := r.Store.MarkEnqueued(ctx, done); err != nil {
			return n, err
		}
	}
	return n, ferr
}

// taskLive reports whether a task in state s will still run.
func taskLive(s asynq.TaskState) bool {
	switch s {
	case asynq.TaskStatePending, asynq.TaskStateActive, asynq.TaskStateScheduled, asynq.TaskStateRetry, asynq.TaskStateAggregating:
		return true
	}
	return false
}

// maxGenerations is how many of the latest resume generations ensureTask
// looks for a task under (with the first, 0).
const maxGenerations = 8

// ensureTask makes sure a task for one piece of pending work is live in
// queue. The work's deterministic TaskIDs are those build gives for the
// first generation (0) and the application's latest resume generations, up
// to gen.
// When one is live nothing is done. When none exists (Redis lost it) the
// latest generation's task is enqueued. When one exists but finished
// (completed or archived) while the work is still pending, and rerun is
// set, it is deleted and enqueued again under the same TaskID. It reports
// whether it enqueued.
func (r *Reconciler) ensureTask(ctx context.Context, queue string, gen int, build taskBuilder, rerun bool, opts ...asynq.Option) (bool, error) {
	gens := []int{0}
	for g := max(1, gen-maxGenerations+1); g <= gen; g++ {
		gens = append(gens, g)
	}
	var finished []string
	var finishedGen []int
	for _, g := range gens {
		id, _ := build(g)
		info, err := r.Inspector.GetTaskInfo(queue, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			continue
		case err != nil:
			return false, fmt.Errorf("look up task %s: %w", id, err)
		case taskLive(info.State):
			return false, nil
		default:
			finished = append(finished, id)
			finishedGen = append(finishedGen, g)
		}
	}
	g := gens[len(gens)-1]
	if len(finished) > 0 {
		if !rerun {
			return false, nil
		}
		id := finished[len(finished)-1]
		g = finishedGen[len(finishedGen)-1]
		if err := r.Inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return false, fmt.Errorf("delete finished task %s: %w", id, err)
		}
	}
	id, task := build(g)
	_, err := r.Workers.enq.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", id, err)
	}
	return true, nil
}

// taskBuilder gives the TaskID and the task of one piece of work for resume
// generation g.
type taskBuilder func(g int) (string, *asynq.Task)
