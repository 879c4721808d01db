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
)

// runner is what every work handler shares: claiming its work and holding
// it while it runs, recording what a failure decides, and the limiter,
// metrics and clock.
type runner struct {
	store   WorkStore
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	lim     *Limiter
}

// workFunc runs claimed work w; ctx ends when the work is lost (another
// process holds it now) or the task's time is up.
type workFunc func(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error

// handle turns fn into the handler of a work task: it decodes the payload,
// claims the work (a task of an older attempt, or of work that moved on,
// does nothing), holds it with a heartbeat while fn runs, and puts the task
// back to asynq, counting nothing, when Postgres cannot be reached.
func (r *runner) handle(step string, fn workFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p WorkPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkID == 0 {
			return fmt.Errorf("%s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		res := result{WorkID: p.WorkID, Attempt: p.Attempt, OrgID: p.OrgID, AppID: p.AppID, Service: p.Service}
		var w onboard.Work
		err := r.persist(ctx, func(ctx context.Context) error {
			var err error
			w, err = r.store.ClaimWork(ctx, p.WorkID, p.Attempt, r.cfg.Now(), r.cfg.Lease)
			return err
		})
		switch {
		case isStale(err):
			res.Outcome = "skipped: the work moved on"
			writeResult(t, res)
			return nil
		case isPaused(err):
			res.Outcome = "skipped: application paused"
			writeResult(t, res)
			return nil
		case err != nil:
			return snooze(fmt.Errorf("claim %s work %d: %w", step, p.WorkID, err), r.cfg.Policy.InfraDelay)
		}
		hctx, stop := r.hold(ctx, w)
		defer stop()
		if err := fn(hctx, t, w, &res); err != nil {
			// Only a write that could not be made comes back here: the
			// work's lease runs out and the dispatcher hands it out again,
			// or asynq runs this task again first.
			r.log.Warn("work not recorded", "step", step, "work_id", w.ID, "err", err)
			return snooze(err, r.cfg.Policy.InfraDelay)
		}
		writeResult(t, res)
		return nil
	}
}

// hold extends w's lease every third of it while the handler runs. The
// context it returns ends when the work is lost to another process.
func (r *runner) hold(ctx context.Context, w onboard.Work) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(r.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				err := r.store.ExtendLease(ctx, w, r.cfg.Now().Add(r.cfg.Lease))
				if isStale(err) {
					cancel(onboard.ErrStale)
					return
				}
				if err != nil {
					r.log.Warn("extend lease", "work_id", w.ID, "err", err)
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// persistFor bounds how long a handler keeps trying to record an outcome
// while Postgres is unreachable.
const persistFor = 20 * time.Second

// persist runs a store write, trying again for a while when it fails (a
// restarting Postgres, a dropped connection): a call's result is recorded
// rather than repeated. It goes on after ctx ends (shutdown), for a short
// time, so a finished call is not lost. Stale and paused work are answers,
// not failures.
func (r *runner) persist(ctx context.Context, fn func(ctx context.Context) error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistFor)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		err := fn(wctx)
		if err == nil || isStale(err) || isPaused(err) || errors.Is(err, onboard.ErrNotFound) {
			return err
		}
		select {
		case <-wctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// call makes one platform call for appID, through the limiter, and counts it.
func (r *runner) call(ctx context.Context, appID, action string, fn func(cctx context.Context) error) (context.Context, error) {
	cctx := withScope(ctx, r.cfg.RateScope(appID))
	start := time.Now()
	err := fn(cctx)
	r.metrics.call(action, time.Since(start), err)
	return cctx, err
}

// failure is what a failed call of work w decided, with the error as the
// workers keep it.
type failure struct {
	onboard.RetryDecision
	Failure onboard.Failure
	Err     onboard.StepError
}

// decide classifies err (from a call made with cctx) and asks the policy
// what follows; it counts the error and, for the platform's rate limit,
// backs every process off that action.
func (r *runner) decide(ctx, cctx context.Context, w onboard.Work, action string, err error) failure {
	f := classify(ctx, cctx, err)
	now := r.cfg.Now()
	d := r.cfg.Policy.Decide(f, w, now)
	r.metrics.callError(action, string(f.Class))
	if f.Class == onboard.ClassRateLimited && f.Wait == 0 {
		r.metrics.rejected(action)
		if berr := r.lim.Backoff(ctx, r.cfg.RateScope(w.AppID), action, r.cfg.RateLimitBackoff); berr != nil {
			r.log.Warn("shared back-off", "err", berr)
		}
		if at := now.Add(r.cfg.RateLimitBackoff); d.At.Before(at) {
			d.At = at
		}
	}
	return failure{RetryDecision: d, Failure: f, Err: stepError(err)}
}

// later records a failure that runs the work again later (RetryLater or
// WaitLater), or pauses the application (PauseApp) and hands the work back.
// FailWork is the caller's: what failing means depends on the step.
func (r *runner) later(ctx context.Context, w onboard.Work, step, action string, f failure, res *result) error {
	res.Code, res.RequestID = f.Err.Code, f.Err.RequestID
	now := r.cfg.Now()
	switch f.Outcome {
	case onboard.PauseApp:
		var paused bool
		if err := r.persist(ctx, func(ctx context.Context) error {
			var err error
			paused, err = r.store.PauseApplication(ctx, w.AppID, action, f.Err, now)
			return err
		}); err != nil {
			return err
		}
		if paused {
			r.log.Error("application paused", "app_id", w.AppID, "action", action, "code", f.Err.Code, "request_id", f.Err.RequestID)
		}
		res.Outcome = "application paused"
		f.RetryDecision = onboard.RetryDecision{Outcome: onboard.WaitLater, At: now}
	case onboard.RetryLater:
		res.Outcome = "will retry at " + f.At.UTC().Format(time.RFC3339)
	default:
		res.Outcome = fmt.Sprintf("waits (%s) until %s", f.Failure.Class, f.At.UTC().Format(time.RFC3339Nano))
	}
	var e *onboard.StepError
	if f.Outcome == onboard.RetryLater {
		e = &f.Err
	}
	return r.persist(ctx, func(ctx context.Context) error {
		return r.store.RetryWork(ctx, w, f.RetryDecision, step, e, now)
	})
}

// lostWork reports whether the handler's context ended because its work
// was handed to another process (its lease could not be held).
func lostWork(ctx context.Context) bool { return errors.Is(context.Cause(ctx), onboard.ErrStale) }

// orgStore loads organizations and ends work: what every organization
// step's store has.
type orgStore interface {
	OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error)
	EndWork(ctx context.Context, w onboard.Work) error
}

// waitingOrg loads w's organization (with its license bytes when license
// is set). When the organization is gone, has new data, or no longer waits
// for this step (waits false), the work is ended, res says skip, and the
// organization returned is nil.
func (r *runner) waitingOrg(ctx context.Context, s orgStore, w onboard.Work, license bool, waits func(*onboard.Org) bool, skip string, res *result) (*onboard.Org, error) {
	var org *onboard.Org
	err := r.persist(ctx, func(ctx context.Context) error {
		var err error
		org, err = s.OnboardingOrg(ctx, w.OrgID, license)
		return err
	})
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if err == nil && org.DataVersion == w.DataVersion && waits(org) {
		return org, nil
	}
	res.Outcome = "skipped: " + skip
	return nil, r.persist(ctx, func(ctx context.Context) error { return s.EndWork(ctx, w) })
}

// operatorOf is whom a company's service steps act as: its super admin, or
// its legal representative when no admin is known ("" when neither is).
func operatorOf(org *onboard.Org) string {
	if org.AdminOpenID != "" {
		return org.AdminOpenID
	}
	return org.LegalOpenID
}

// inState says whether an organization is in state.
func inState(state string) func(*onboard.Org) bool {
	return func(o *onboard.Org) bool { return o.State == state }
}
