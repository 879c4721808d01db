package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
)

// Polling modes of a round.
const (
	pollSingle = "single" // one DescribeChannelOrganizations per waiting company
	pollList   = "list"   // page through the application's whole list
	pollNone   = "none"   // nothing was waiting
)

// CodeNoQueryIdentity is the pause code of an application that has no query
// identity to poll authorization with.
const CodeNoQueryIdentity = "onboard.NoQueryIdentity"

// PollStore is what a polling round reads and writes.
type PollStore interface {
	Application(ctx context.Context, appID string) (*onboard.Application, error)
	// AwaitingOrgs lists the organizations of appID waiting for
	// authorization, and how many organizations appID has in all.
	AwaitingOrgs(ctx context.Context, appID string) ([]onboard.AwaitingOrg, int, error)
	ApplyAuthStatus(ctx context.Context, id int64, version int, ob onboard.AuthObservation, now time.Time) (onboard.AuthOutcome, error)
	FinishPollRound(ctx context.Context, w onboard.Work, r onboard.PollRound, sched onboard.PollSchedule, stop bool, now time.Time) (int, time.Time, error)
	RecordOrgError(ctx context.Context, id int64, version int, step string, e onboard.StepError, now time.Time) error
	// LastCallbackAt is when the latest callback about appID arrived.
	LastCallbackAt(ctx context.Context, appID string) (time.Time, error)
}

// pollHandler runs org:await_auth, one polling round of one application. It
// learns the authorization status of every waiting company at the cost of
// min(waiting, ceil(companies/200)) calls (plus at most one to tell how the
// platform reads Offset): one call per company when few wait, otherwise the
// whole list 200 a page. Verified companies move on to their services; the
// next round is due while companies still wait, later after every round in
// which nothing changed (onboard.PollDelay).
type pollHandler struct {
	*runner
	store PollStore
	api   API
}

// schedule is the pause between polling rounds of appID: the usual one,
// or at least PollWithCallbacks while the platform's callbacks arrive for
// the application (a callback makes a check of its company due at once, so
// polling is only the fallback for callbacks that were lost).
func (h *pollHandler) schedule(ctx context.Context, appID string) onboard.PollSchedule {
	sched := onboard.PollSchedule{Min: h.cfg.PollMin, Max: h.cfg.PollMax}
	last, err := h.store.LastCallbackAt(ctx, appID)
	if err != nil || last.IsZero() || h.cfg.Now().Sub(last) > 2*h.cfg.PollWithCallbacks {
		return sched
	}
	sched.Min = max(sched.Min, h.cfg.PollWithCallbacks)
	sched.Max = max(sched.Max, h.cfg.PollWithCallbacks)
	return sched
}

func (h *pollHandler) round(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error {
	round := onboard.PollRound{StartedAt: h.cfg.Now()}
	var app *onboard.Application
	var waiting []onboard.AwaitingOrg
	var known int
	if err := h.persist(ctx, func(ctx context.Context) error {
		var err error
		if app, err = h.store.Application(ctx, w.AppID); err != nil {
			return err
		}
		waiting, known, err = h.store.AwaitingOrgs(ctx, w.AppID)
		return err
	}); err != nil {
		return err
	}
	round.Waiting = len(waiting)
	round.Mode = pollNone
	if len(waiting) > 0 {
		q, ok := h.cfg.queryIdentity(app)
		if !ok {
			e := onboard.StepError{Code: CodeNoQueryIdentity, Message: fmt.Sprintf(
				"no query identity for application %s: give a verified company and operator with 'onboard resume --app-id %s --query-org-openid ID --query-operator-openid ID' (or ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID for ESS_APP_ID)",
				w.AppID, w.AppID)}
			if err := h.persist(ctx, func(ctx context.Context) error {
				_, err := h.runner.store.PauseApplication(ctx, w.AppID, ess.ActionDescribeChannelOrganizations, e, h.cfg.Now())
				return err
			}); err != nil {
				return err
			}
			res.Code = e.Code
			return h.finish(ctx, w, round, true, "application paused: no query identity", res)
		}
		cctx, err := h.poll(ctx, app, q, known, waiting, &round)
		res.Mode, res.Calls, res.Waiting, res.Changed = round.Mode, round.Calls, round.Waiting, round.Changed
		if err != nil {
			return h.onError(ctx, cctx, w, round, err, res)
		}
	}
	res.Mode, res.Calls, res.Waiting, res.Changed = round.Mode, round.Calls, round.Waiting, round.Changed
	return h.finish(ctx, w, round, false, "polled", res)
}

// finish records the round and makes the next one due (or ends polling).
func (h *pollHandler) finish(ctx context.Context, w onboard.Work, round onboard.PollRound, stop bool, outcome string, res *result) error {
	var next time.Time
	if err := h.persist(ctx, func(ctx context.Context) error {
		var err error
		_, next, err = h.store.FinishPollRound(ctx, w, round, h.schedule(ctx, w.AppID), stop, h.cfg.Now())
		return err
	}); err != nil {
		return err
	}
	res.Outcome = outcome
	if !next.IsZero() {
		res.Next = next.UTC().Format(time.RFC3339)
	}
	return nil
}

// poll asks the platform about the waiting companies and applies what it
// says; round receives the mode, calls and changes. It returns the context
// the calls were made with, for the limiter's verdict.
func (h *pollHandler) poll(ctx context.Context, app *onboard.Application, q QueryIdentity, known int, waiting []onboard.AwaitingOrg, round *onboard.PollRound) (context.Context, error) {
	appOrgs := max(known+1, app.PlatformTotal) // +1: the query identity's own company
	round.AppOrgs = appOrgs
	pages := (appOrgs + ess.PageLimit - 1) / ess.PageLimit
	agent := ess.Agent{AppId: app.AppID, ProxyOrganizationOpenId: q.OrgOpenID, ProxyOperator: &ess.UserInfo{OpenId: q.OperatorOpenID}}
	byOpenID := make(map[string]onboard.AwaitingOrg, len(waiting))
	for _, o := range waiting {
		byOpenID[o.OpenID] = o
	}
	now := h.cfg.Now()
	apply := func(info ess.ChannelOrganizationInfo) error {
		o, ok := byOpenID[info.OrganizationOpenId]
		if !ok {
			return nil
		}
		delete(byOpenID, info.OrganizationOpenId)
		changed, err := h.apply(ctx, o.ID, o.DataVersion, info, now)
		if changed {
			round.Changed++
		}
		return err
	}
	cctx := withScope(ctx, h.cfg.RateScope(app.AppID))
	if len(waiting) <= pages {
		round.Mode = pollSingle
		for _, o := range waiting {
			start := time.Now()
			resp, err := h.api.DescribeChannelOrganizations(cctx, &ess.DescribeChannelOrganizationsRequest{
				Agent: agent, Limit: 1, OrganizationOpenId: o.OpenID})
			h.metrics.call(ess.ActionDescribeChannelOrganizations, time.Since(start), err)
			round.Calls++
			h.metrics.pollCalls.Add(1)
			if err != nil {
				if f := classify(ctx, cctx, err); f.Class == onboard.ClassPermanent {
					// This company's question is refused: keep the error
					// on it and go on with the others.
					if rerr := h.persist(ctx, func(ctx context.Context) error {
						return h.store.RecordOrgError(ctx, o.ID, o.DataVersion, "auth", stepError(err), h.cfg.Now())
					}); rerr != nil {
						return cctx, rerr
					}
					continue
				}
				return cctx, err
			}
			for _, info := range resp.ChannelOrganizationInfos {
				if err := apply(info); err != nil {
					return cctx, err
				}
			}
		}
	} else {
		round.Mode = pollList
		seen := 0
		start := time.Now()
		calls, err := h.api.ListChannelOrganizations(cctx, agent, nil, func(infos []ess.ChannelOrganizationInfo) error {
			seen += len(infos)
			for _, info := range infos {
				if err := apply(info); err != nil {
					return err
				}
			}
			return nil
		})
		h.metrics.call(ess.ActionDescribeChannelOrganizations, time.Since(start), err)
		round.Calls += calls
		h.metrics.pollCalls.Add(int64(calls))
		if err != nil {
			return cctx, err
		}
		round.PlatformTotal = seen
	}
	h.metrics.pollOrgs.Add(int64(len(waiting)))
	// Companies the platform did not mention: only their deadline matters.
	for _, o := range byOpenID {
		if o.Deadline.IsZero() || !now.After(o.Deadline) {
			continue
		}
		changed, err := h.apply(ctx, o.ID, o.DataVersion, ess.ChannelOrganizationInfo{}, now)
		if changed {
			round.Changed++
		}
		if err != nil {
			return cctx, err
		}
	}
	return cctx, nil
}

// apply records one company's status (its services become due when it has
// just been verified) and reports whether its state changed.
func (h *pollHandler) apply(ctx context.Context, id int64, version int, info ess.ChannelOrganizationInfo, now time.Time) (bool, error) {
	return applyStatus(ctx, h.runner, h.store, id, version, info, now)
}

// StatusApplier records what the platform said about one company.
type StatusApplier interface {
	ApplyAuthStatus(ctx context.Context, id int64, version int, ob onboard.AuthObservation, now time.Time) (onboard.AuthOutcome, error)
}

func applyStatus(ctx context.Context, r *runner, s StatusApplier, id int64, version int, info ess.ChannelOrganizationInfo, now time.Time) (bool, error) {
	var out onboard.AuthOutcome
	err := r.persist(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.ApplyAuthStatus(ctx, id, version, onboard.AuthObservation{
			Status: info.AuthorizationStatus, PlatformOrgID: info.OrganizationId,
			AdminOpenID: info.AdminOpenId, LegalOpenID: info.LegalOpenId}, now)
		return err
	})
	if err != nil || out.To == out.From {
		return false, err
	}
	r.metrics.transition(out.To)
	return true, nil
}

// onError decides what a failed polling round does. Nothing fails an
// organization here: a transient error retries the round and, past the
// budget, ends it early with the next round on schedule; a listing the
// platform refuses, or a systemic error, pauses the application (the query
// identity or the credentials need fixing); the limiter and onboard's own
// servers make it wait.
func (h *pollHandler) onError(ctx, cctx context.Context, w onboard.Work, round onboard.PollRound, err error, res *result) error {
	action := ess.ActionDescribeChannelOrganizations
	f := h.decide(ctx, cctx, w, action, err)
	res.Code, res.RequestID = f.Err.Code, f.Err.RequestID
	round.ErrorCode = f.Err.Code
	switch {
	case f.Outcome == onboard.PauseApp || (f.Outcome == onboard.FailWork && f.Failure.Class == onboard.ClassPermanent):
		if err := h.persist(ctx, func(ctx context.Context) error {
			_, err := h.runner.store.PauseApplication(ctx, w.AppID, action, f.Err, h.cfg.Now())
			return err
		}); err != nil {
			return err
		}
		return h.finish(ctx, w, round, true, "application paused", res)
	case f.Outcome == onboard.FailWork:
		return h.finish(ctx, w, round, false, "round ended early: "+f.Err.Code, res)
	}
	return h.later(ctx, w, "auth", action, f, res)
}

// VerifyStore is what the check of one company's verification reads and
// writes.
type VerifyStore interface {
	Application(ctx context.Context, appID string) (*onboard.Application, error)
	OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error)
	ApplyAuthStatus(ctx context.Context, id int64, version int, ob onboard.AuthObservation, now time.Time) (onboard.AuthOutcome, error)
	EndWork(ctx context.Context, w onboard.Work) error
	// LastCallbackEvent is when the event of the latest callback about an
	// organization happened.
	LastCallbackEvent(ctx context.Context, orgID int64) (time.Time, error)
}

// observeCallback counts the time from the event of the latest callback
// about orgID to the state change just recorded (by a check only a
// callback makes due).
func observeCallback(ctx context.Context, r *runner, s interface {
	LastCallbackEvent(ctx context.Context, orgID int64) (time.Time, error)
}, orgID int64) {
	at, err := s.LastCallbackEvent(ctx, orgID)
	if err == nil && !at.IsZero() {
		r.metrics.eventToStateObserved(max(r.cfg.Now().Sub(at), 0))
	}
}

// verifyHandler runs org:verify: one DescribeChannelOrganizations of the
// company a callback named, while it waits for verification. The company
// moves on the platform's answer (as in a polling round), never on the
// callback's payload; a company the platform does not list yet keeps
// waiting for the next round.
type verifyHandler struct {
	*runner
	store VerifyStore
	api   API
}

func (h *verifyHandler) verify(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error {
	org, err := h.waitingOrg(ctx, h.store, w, false, inState(onboard.StateAwaitingAuth), "the organization is not waiting for verification", res)
	if org == nil {
		return err
	}
	var app *onboard.Application
	if err := h.persist(ctx, func(ctx context.Context) error {
		var err error
		app, err = h.store.Application(ctx, w.AppID)
		return err
	}); err != nil {
		return err
	}
	end := func(why string) error {
		res.Outcome = why
		return h.persist(ctx, func(ctx context.Context) error { return h.store.EndWork(ctx, w) })
	}
	q, ok := h.cfg.queryIdentity(app)
	if !ok {
		return end("skipped: no query identity (the polling round reports it)")
	}
	agent := ess.Agent{AppId: app.AppID, ProxyOrganizationOpenId: q.OrgOpenID, ProxyOperator: &ess.UserInfo{OpenId: q.OperatorOpenID}}
	var resp *ess.DescribeChannelOrganizationsResponse
	cctx, err := h.call(ctx, app.AppID, ess.ActionDescribeChannelOrganizations, func(cctx context.Context) error {
		var err error
		resp, err = h.api.DescribeChannelOrganizations(cctx, &ess.DescribeChannelOrganizationsRequest{
			Agent: agent, Limit: 1, OrganizationOpenId: org.Data.OpenID})
		return err
	})
	if err != nil {
		f := h.decide(ctx, cctx, w, ess.ActionDescribeChannelOrganizations, err)
		if f.Outcome == onboard.RetryLater || f.Outcome == onboard.WaitLater {
			return h.later(ctx, w, "verify", ess.ActionDescribeChannelOrganizations, f, res)
		}
		// Refused or paused: the polling round reports and handles it.
		res.Code, res.RequestID = f.Err.Code, f.Err.RequestID
		return end("ended: " + f.Err.Code)
	}
	res.RequestID, res.Calls = resp.RequestId, 1
	now := h.cfg.Now()
	for _, info := range resp.ChannelOrganizationInfos {
		if info.OrganizationOpenId != org.Data.OpenID {
			continue
		}
		changed, err := applyStatus(ctx, h.runner, h.store, org.ID, org.DataVersion, info, now)
		if err != nil {
			return err
		}
		if changed {
			res.Changed = 1
			observeCallback(ctx, h.runner, h.store, org.ID)
		}
	}
	return end("verified against the platform")
}
