package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/hibiken/asynq"
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

// handleAwaitAuth runs one polling round of one application. It learns the
// authorization status of every waiting company at the cost of
// min(waiting, ceil(companies/200)) calls (plus at most one to tell how the
// platform reads Offset): one call per company when few wait, otherwise the
// whole list 200 a page. Verified companies move on to their services; the
// next round is scheduled while companies still wait, later after every
// round in which nothing changed.
func (w *Workers) handleAwaitAuth(ctx context.Context, t *asynq.Task) error {
	var p AuthPollPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.AppID == "" {
		return fmt.Errorf("org:await_auth payload: %v: %w", err, asynq.SkipRetry)
	}
	res := result{AppID: p.AppID}
	round := onboard.PollRound{Round: p.Round, StartedAt: w.cfg.Now()}
	fail := func(err error) error { return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx))) }

	app, err := w.store.Application(ctx, p.AppID)
	if err != nil {
		return fail(err)
	}
	stop := func(why string) error {
		if _, err := w.store.FinishAuthPoll(ctx, p.AppID, round, w.cfg.PollMin, w.cfg.PollMax, true); err != nil {
			return fail(err)
		}
		res.Outcome = why
		writeResult(t, res)
		return nil
	}
	if !app.PausedAt.IsZero() {
		return stop("stopped: application paused")
	}
	waiting, err := w.store.AwaitingOrgs(ctx, p.AppID)
	if err != nil {
		return fail(err)
	}
	round.Waiting = len(waiting)
	if len(waiting) > 0 {
		q, ok := w.queryIdentity(app)
		if !ok {
			e := onboard.StepError{Code: CodeNoQueryIdentity, Message: fmt.Sprintf(
				"no query identity for application %s: give a verified company and operator with 'onboard resume --app-id %s --query-org-openid ID --query-operator-openid ID' (or ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID for ESS_APP_ID)",
				p.AppID, p.AppID)}
			if _, err := w.store.PauseApplication(ctx, p.AppID, ess.ActionDescribeChannelOrganizations, e); err != nil {
				return fail(err)
			}
			res.Code = e.Code
			return stop("application paused: no query identity")
		}
		if err := w.pollRound(ctx, app, q, waiting, &round); err != nil {
			res.Mode, res.Calls, res.Waiting, res.Changed = round.Mode, round.Calls, round.Waiting, round.Changed
			return w.onPollError(ctx, t, p.AppID, round, err, &res)
		}
	} else {
		round.Mode = pollNone
	}
	next, err := w.store.FinishAuthPoll(ctx, p.AppID, round, w.cfg.PollMin, w.cfg.PollMax, false)
	if err != nil {
		return fail(err)
	}
	if err := w.enqueuePoll(ctx, next); err != nil {
		return fail(err)
	}
	res.Outcome, res.Mode, res.Calls, res.Waiting, res.Changed = "polled", round.Mode, round.Calls, round.Waiting, round.Changed
	if next != nil {
		res.Next = next.At.UTC().Format(time.RFC3339)
	}
	writeResult(t, res)
	return nil
}

// pollRound asks the platform about the waiting companies and applies what
// it says; round receives the mode, calls and changes.
func (w *Workers) pollRound(ctx context.Context, app *onboard.Application, q QueryIdentity, waiting []onboard.AwaitingOrg, round *onboard.PollRound) error {
	known, err := w.store.CountOrgs(ctx, app.AppID)
	if err != nil {
		return err
	}
	appOrgs := max(known+1, app.PlatformTotal) // +1: the query identity's own company
	round.AppOrgs = appOrgs
	pages := (appOrgs + ess.PageLimit - 1) / ess.PageLimit
	agent := ess.Agent{AppId: app.AppID, ProxyOrganizationOpenId: q.OrgOpenID, ProxyOperator: &ess.UserInfo{OpenId: q.OperatorOpenID}}
	byOpenID := make(map[string]onboard.AwaitingOrg, len(waiting))
	for _, o := range waiting {
		byOpenID[o.OpenID] = o
	}
	now := w.cfg.Now()
	apply := func(info ess.ChannelOrganizationInfo) error {
		o, ok := byOpenID[info.OrganizationOpenId]
		if !ok {
			return nil
		}
		delete(byOpenID, info.OrganizationOpenId)
		changed, err := w.applyStatus(ctx, o.ID, o.DataVersion, info, now)
		if changed {
			round.Changed++
		}
		return err
	}
	cctx := w.callCtx(ctx, app.AppID)
	if len(waiting) <= pages {
		round.Mode = pollSingle
		for _, o := range waiting {
			start := time.Now()
			resp, err := w.api.DescribeChannelOrganizations(cctx, &ess.DescribeChannelOrganizationsRequest{
				Agent: agent, Limit: 1, OrganizationOpenId: o.OpenID})
			w.metrics.call(ess.ActionDescribeChannelOrganizations, time.Since(start), err)
			round.Calls++
			w.metrics.pollCalls.Add(1)
			if err != nil {
				err = w.callErr(cctx, err)
				if ess.ClassOf(err) == ess.ClassPermanent && !isWait(err) {
					// This company's question is refused: keep the error
					// on it and go on with the others.
					if rerr := w.store.RecordOrgError(ctx, o.ID, o.DataVersion, "auth", stepError(err), false); rerr != nil {
						return rerr
					}
					continue
				}
				return err
			}
			for _, info := range resp.ChannelOrganizationInfos {
				if err := apply(info); err != nil {
					return err
				}
			}
		}
	} else {
		round.Mode = pollList
		seen := 0
		start := time.Now()
		calls, err := w.api.ListChannelOrganizations(cctx, agent, nil, func(infos []ess.ChannelOrganizationInfo) error {
			seen += len(infos)
			for _, info := range infos {
				if err := apply(info); err != nil {
					return err
				}
			}
			return nil
		})
		w.metrics.call(ess.ActionDescribeChannelOrganizations, time.Since(start), err)
		round.Calls += calls
		w.metrics.pollCalls.Add(int64(calls))
		if err != nil {
			return w.callErr(cctx, err)
		}
		round.PlatformTotal = seen
	}
	w.metrics.pollOrgs.Add(int64(len(waiting)))
	// Companies the platform did not mention: only their deadline matters.
	for _, o := range byOpenID {
		if o.Deadline.IsZero() || !now.After(o.Deadline) {
			continue
		}
		changed, err := w.applyStatus(ctx, o.ID, o.DataVersion, ess.ChannelOrganizationInfo{}, now)
		if changed {
			round.Changed++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyStatus records one company's status and enqueues its services when
// it has just been verified. It reports whether the organization's state
// changed.
func (w *Workers) applyStatus(ctx context.Context, id int64, version int, info ess.ChannelOrganizationInfo, now time.Time) (bool, error) {
	out, err := w.store.ApplyAuthStatus(ctx, id, version, onboard.AuthObservation{
		Status: info.AuthorizationStatus, PlatformOrgID: info.OrganizationId,
		AdminOpenID: info.AdminOpenId, LegalOpenID: info.LegalOpenId}, now)
	if err != nil {
		return false, err
	}
	if out.To == out.From {
		return false, nil
	}
	w.metrics.transition(out.To)
	if out.To == onboard.StateOpeningServices {
		if err := w.enqueueServices(ctx, id, version, out.Services, 0); err != nil {
			return true, err
		}
	}
	return true, nil
}

// ApplyStatuses brings the organizations of appID that the platform listed
// up to date (for the reconciliation sweep): a verified company moves on to
// its services, a rejected or late one to its final state. Organizations in
// other states, or unknown to onboard, are left alone. It returns how many
// organizations changed state.
func (w *Workers) ApplyStatuses(ctx context.Context, appID string, versions map[string]OrgRef, infos []ess.ChannelOrganizationInfo) (int, error) {
	now := w.cfg.Now()
	n := 0
	for _, info := range infos {
		ref, ok := versions[info.OrganizationOpenId]
		if !ok {
			continue
		}
		changed, err := w.applyStatus(ctx, ref.ID, ref.DataVersion, info, now)
		if changed {
			n++
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// OrgRef names one data version of an organization.
type OrgRef struct {
	ID          int64
	DataVersion int
}

// onPollError decides what a failed polling round does. Nothing fails an
// organization here: a transient error retries the round and, out of
// tries, leaves it to the next round; a listing the platform refuses, or a
// systemic error, pauses the application (the query identity or the
// credentials need fixing); a single company the platform refuses keeps its
// error and waits for the next round.
func (w *Workers) onPollError(ctx context.Context, t *asynq.Task, appID string, round onboard.PollRound, err error, res *result) error {
	d := w.cfg.Policy.Decide(err, tries(ctx))
	se := stepError(err)
	res.Code, res.RequestID = se.Code, se.RequestID
	w.metrics.callError(ess.ActionDescribeChannelOrganizations, d.Class)
	action := ess.ActionDescribeChannelOrganizations
	finish := func(stop bool) error {
		round.ErrorCode = se.Code
		next, ferr := w.store.FinishAuthPoll(ctx, appID, round, w.cfg.PollMin, w.cfg.PollMax, stop)
		if ferr != nil {
			return retryAfter(ferr, w.cfg.Policy.Backoff(tries(ctx)))
		}
		if ferr := w.enqueuePoll(ctx, next); ferr != nil {
			return retryAfter(ferr, w.cfg.Policy.Backoff(tries(ctx)))
		}
		writeResult(t, *res)
		return nil
	}
	switch {
	case d.Outcome == Snooze:
		if d.Class == ess.ClassRateLimited && !isWait(err) {
			w.metrics.rejected(action)
			_ = w.lim.Backoff(ctx, w.cfg.RateScope(appID), action, w.cfg.RateLimitBackoff)
			d.Delay = max(d.Delay, w.cfg.RateLimitBackoff)
		}
		res.Outcome = "snoozed"
		writeResult(t, *res)
		return snooze(err, d.Delay)
	case d.Outcome == Pause || (d.Outcome == Fail && d.Class == ess.ClassPermanent && round.Mode == pollList):
		if _, perr := w.store.PauseApplication(ctx, appID, action, se); perr != nil {
			return retryAfter(perr, w.cfg.Policy.Backoff(1))
		}
		res.Outcome = "application paused"
		return finish(true)
	case d.Outcome == Fail:
		res.Outcome = "round ended early: " + se.Code
		return finish(false)
	default:
		res.Outcome = "will retry"
		writeResult(t, *res)
		return retryAfter(err, d.Delay)
	}
}
