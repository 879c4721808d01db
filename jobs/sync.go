package jobs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/hibiken/asynq"
)

// loginLinkLifetime is how long a console link of endpoint lives: 5 minutes
// for the PC console, 30 days for the mobile kinds.
func loginLinkLifetime(endpoint string) time.Duration {
	switch strings.ToUpper(endpoint) {
	case "", "PC", "CHANNEL":
		return 5 * time.Minute
	}
	return 30 * 24 * time.Hour
}

// beginOrgTask decodes an organization task's payload and loads its
// organization. A nil organization with a nil error means the task has
// nothing to do and its result is written: the organization is gone, its
// data changed since the task was made, or its application is paused. An
// error is ready to return from the handler.
func (w *Workers) beginOrgTask(ctx context.Context, t *asynq.Task, license bool) (OrgPayload, *onboard.Org, result, error) {
	var p OrgPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || (t.Type() == TypeOrgOpenService && p.Service == "") {
		return p, nil, result{}, fmt.Errorf("%s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	res := result{OrgID: p.OrgID, Service: p.Service}
	skip := func(why string) (OrgPayload, *onboard.Org, result, error) {
		res.Outcome = "skipped: " + why
		writeResult(t, res)
		return p, nil, res, nil
	}
	fail := func(err error) (OrgPayload, *onboard.Org, result, error) {
		return p, nil, res, retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
	}
	org, err := w.store.OnboardingOrg(ctx, p.OrgID, license)
	switch {
	case isNotFound(err):
		return skip("organization not found")
	case err != nil:
		return fail(err)
	case org.DataVersion != p.DataVersion:
		return skip("outdated data version")
	}
	app, err := w.store.Application(ctx, org.AppID)
	if err != nil {
		return fail(err)
	}
	if app.Paused() {
		return skip("application paused")
	}
	res.AppID, res.State = org.AppID, org.State
	return p, org, res, nil
}

// ErrNotFound is what a Store returns (wrapped or not) for an organization
// that does not exist: onboard.ErrNotFound, which *repository.Store returns.
var ErrNotFound = onboard.ErrNotFound

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// handleSync runs org:sync: SyncProxyOrganization with the stored data, a
// console link for the admin the row named, then waiting for authorization.
// Each step is recorded when it succeeds, so a retry goes on from where the
// last try stopped.
func (w *Workers) handleSync(ctx context.Context, t *asynq.Task) error {
	_, org, res, err := w.beginOrgTask(ctx, t, true)
	if org == nil {
		return err
	}
	if org.State != onboard.StateQueued {
		if org.State == onboard.StateAwaitingAuth {
			// An earlier try may have stopped between recording the state
			// and enqueueing the polling round: make sure it is scheduled
			// (a round overdue by far is handed out again).
			ticket, err := w.store.EnsureAuthPoll(ctx, org.AppID, w.cfg.PollMin, 2*w.cfg.PollMax)
			if err != nil {
				return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
			}
			if err := w.enqueuePoll(ctx, ticket); err != nil {
				return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
			}
		}
		res.Outcome = "skipped: already " + org.State
		writeResult(t, res)
		return nil
	}

	if org.SyncedVersion != org.DataVersion {
		req := syncRequest(org)
		cctx := w.callCtx(ctx, org.AppID)
		start := time.Now()
		resp, err := w.api.SyncProxyOrganization(cctx, req)
		w.metrics.call(ess.ActionSyncProxyOrganization, time.Since(start), err)
		if err != nil {
			return w.onCallError(ctx, t, org.AppID, ess.ActionSyncProxyOrganization, org, "sync", w.callErr(cctx, err), true, &res)
		}
		res.RequestID = resp.RequestId
		if err := w.store.RecordSynced(ctx, org.ID, org.DataVersion, resp.RequestId); err != nil {
			return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
		}
	}

	if err := w.loginLink(ctx, t, org, &res); err != nil {
		return err
	}

	ticket, changed, err := w.store.MarkAwaitingAuth(ctx, org.ID, org.DataVersion, w.cfg.Now().Add(w.cfg.AuthTimeout), w.cfg.PollMin)
	if err != nil {
		return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
	}
	if err := w.enqueuePoll(ctx, ticket); err != nil {
		return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
	}
	res.Outcome = "synced"
	if changed {
		res.State = onboard.StateAwaitingAuth
		w.metrics.transition(onboard.StateAwaitingAuth)
	}
	writeResult(t, res)
	return nil
}

func syncRequest(org *onboard.Org) *ess.SyncProxyOrganizationRequest {
	d := org.Data
	req := &ess.SyncProxyOrganizationRequest{
		Agent:                   ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: d.OpenID},
		ProxyOrganizationName:   d.Name,
		UniformSocialCreditCode: d.CreditCode,
		ProxyLegalName:          d.LegalName,
		ProxyLegalIdCardType:    d.LegalIDCardType,
		ProxyLegalIdCardNumber:  d.LegalIDCardNumber,
		ProxyAddress:            d.Address,
	}
	if d.License != nil && len(d.License.Data) > 0 {
		req.BusinessLicense = base64.StdEncoding.EncodeToString(d.License.Data)
	}
	return req
}

// loginLink asks for a console link for the admin the row named, unless a
// link for that admin is still valid. While the company is activating, a
// link for a second operator would discard the first one's verification:
// then no new link is asked for and the reason is recorded. A failure of
// this step that is final is recorded on the organization without failing
// it (the company can still be activated another way); a transient one
// retries the task (the sync is not repeated).
func (w *Workers) loginLink(ctx context.Context, t *asynq.Task, org *onboard.Org, res *result) error {
	admin := org.Data.AdminOpenID
	if admin == "" {
		return nil
	}
	now := w.cfg.Now()
	if org.LoginOperator == admin && org.LoginURL != "" && org.LoginExpires.After(now) {
		return nil
	}
	if org.LoginOperator != "" && org.LoginOperator != admin && org.AuthStatus != ess.StatusVerified {
		e := onboard.StepError{Code: "onboard.LoginOperatorInUse",
			Message: "a console link was already issued to another operator of this company; a second one would discard its verification"}
		if err := w.store.RecordOrgError(ctx, org.ID, org.DataVersion, "login_url", e, false); err != nil {
			return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
		}
		return nil
	}
	req := &ess.CreateConsoleLoginUrlRequest{
		Agent: ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: org.Data.OpenID,
			ProxyOperator: &ess.UserInfo{OpenId: admin}},
		ProxyOrganizationName:   org.Data.Name,
		UniformSocialCreditCode: org.Data.CreditCode,
		Endpoint:                w.cfg.LoginEndpoint,
	}
	cctx := w.callCtx(ctx, org.AppID)
	start := time.Now()
	resp, err := w.api.CreateConsoleLoginUrl(cctx, req)
	w.metrics.call(ess.ActionCreateConsoleLoginUrl, time.Since(start), err)
	if err != nil {
		err = w.callErr(cctx, err)
		d := w.cfg.Policy.Decide(err, tries(ctx))
		if d.Outcome == Fail {
			// Recorded, not fatal: go on to waiting for authorization.
			if rerr := w.store.RecordOrgError(ctx, org.ID, org.DataVersion, "login_url", stepError(err), false); rerr != nil {
				return retryAfter(rerr, w.cfg.Policy.Backoff(tries(ctx)))
			}
			return nil
		}
		return w.onCallError(ctx, t, org.AppID, ess.ActionCreateConsoleLoginUrl, org, "login_url", err, false, res)
	}
	l := onboard.LoginURL{URL: resp.ConsoleUrl, ExpiresAt: now.Add(loginLinkLifetime(w.cfg.LoginEndpoint)),
		Operator: admin, Endpoint: w.cfg.LoginEndpoint, RequestID: resp.RequestId}
	if err := w.store.RecordLoginURL(ctx, org.ID, org.DataVersion, l); err != nil {
		return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
	}
	return nil
}

// callErr returns the limiter's refusal when the transport met one during
// the call, else err.
func (w *Workers) callErr(cctx context.Context, err error) error {
	if we := limiterRefusal(cctx); we != nil {
		return we
	}
	return err
}
