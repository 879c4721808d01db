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
	// BeginReconcileRun takes the application's sweep lock and records the
	// start of a run; ok is false when another sweep holds the lock. The
	// lock ends with unlock, or with the connection if the process dies.
	BeginReconcileRun(ctx context.Context, appID, trigger string, now time.Time) (id int64, unlock func(), ok bool, err error)
	FinishReconcileRun(ctx context.Context, r *onboard.ReconcileRun, drift []onboard.Drift) error
	// KnownOrgs returns the organizations of appID among openIDs.
	KnownOrgs(ctx context.Context, appID string, openIDs []string) ([]onboard.KnownOrg, error)
	// UpdatePlatformStatus stores the status and OpenIds the platform
	// reported for verified organizations and returns how many changed.
	UpdatePlatformStatus(ctx context.Context, ups []onboard.PlatformUpdate, now time.Time) (int, error)
	// CheckExpiredLinks makes a check of its services due for every
	// organization of appID waiting for its admin with an expired link, and
	// returns those links.
	CheckExpiredLinks(ctx context.Context, appID string, now time.Time) ([]onboard.ExpiredLink, error)
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

// Reconciler runs reconciliation sweeps: it brings every organization's
// authorization status up to date from the platform's bulk listing, reports
// drift, and makes a check due for companies whose service links expired
// (the check asks for a new link only while the service is not open). It is not the
// repair path for lost tasks (the dispatcher is). One sweep per
// application runs at a time, however many processes try; a sweep is safe
// while workers run, and running it twice changes nothing the first did
// not.
type Reconciler struct {
	// Workers apply authorization statuses exactly as a polling round does.
	Workers *Workers
	Store   ReconcileStore
	// Logger; nil means slog.Default().
	Logger *slog.Logger
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

// Sweep reconciles one application now. It returns ErrSweepRunning (with a
// report marked Skipped) when another sweep of appID holds the lock. The
// run is recorded whether it succeeds or not; an error from the platform's
// listing is kept in the report and the repairs still run.
func (r *Reconciler) Sweep(ctx context.Context, appID, trigger string) (*SweepReport, error) {
	w := r.Workers
	start := w.cfg.Now()
	id, unlock, ok, err := r.Store.BeginReconcileRun(ctx, appID, trigger, start)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &SweepReport{ReconcileRun: onboard.ReconcileRun{AppID: appID, Trigger: trigger}, Skipped: true}, ErrSweepRunning
	}
	defer unlock()
	rep := &SweepReport{ReconcileRun: onboard.ReconcileRun{ID: id, AppID: appID, Trigger: trigger, StartedAt: start}, Drift: []onboard.Drift{}}
	var errs []error
	app, err := w.store.Application(ctx, appID)
	switch {
	case err != nil:
		errs = append(errs, err)
	case !app.PausedAt.IsZero():
		// A paused application's work waits for resume; the sweep does
		// not call the platform for it.
		rep.Error = fmt.Sprintf("application paused (%s %s); run 'onboard resume --app-id %s' once the cause is fixed",
			app.PauseAction, app.PauseCode, appID)
	default:
		if err := r.list(ctx, app, rep); err != nil {
			rep.Error = "listing: " + err.Error()
			r.log().Warn("reconcile: listing the platform's companies failed; repairing anyway", "app", appID, "code", stepError(err).Code, "error", err)
		}
		expired, err := r.Store.CheckExpiredLinks(ctx, appID, w.cfg.Now())
		rep.LinksRenewed = len(expired)
		if err != nil {
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
	q, ok := w.cfg.queryIdentity(app)
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
				changed, err := applyStatus(ctx, w.poll.runner, w.store, k.ID, k.DataVersion, info, now)
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
			case onboard.StateOpeningServices, onboard.StateAwaitingAdmin, onboard.StateDone, onboard.StateFailed:
				if info.AuthorizationStatus != k.AuthStatus || nonEmptyDiffers(info.OrganizationId, k.PlatformOrgID) ||
					nonEmptyDiffers(info.AdminOpenId, k.AdminOpenID) || nonEmptyDiffers(info.LegalOpenId, k.LegalOpenID) {
					ups = append(ups, onboard.PlatformUpdate{ID: k.ID, DataVersion: k.DataVersion, Status: info.AuthorizationStatus,
						PlatformOrgID: info.OrganizationId, AdminOpenID: info.AdminOpenId, LegalOpenID: info.LegalOpenId})
				}
			}
		}
		if len(ups) > 0 {
			n, err := r.Store.UpdatePlatformStatus(ctx, ups, now)
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
		cctx := withScope(ctx, w.cfg.RateScope(app.AppID))
		calls, err := w.api.ListChannelOrganizations(cctx, agent, nil, page)
		rep.Pages += calls
		if err == nil {
			return nil
		}
		var we *WaitError
		if wr := limiterRefusal(cctx); wr != nil {
			we = wr
		} else if !errors.As(err, &we) {
			return err
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
