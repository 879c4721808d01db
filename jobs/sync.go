package jobs

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
)

// SyncStore is what the sync and console-link steps read and write.
type SyncStore interface {
	OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error)
	CompleteSync(ctx context.Context, w onboard.Work, requestID string, login bool, aw onboard.Awaiting, now time.Time) error
	CompleteLogin(ctx context.Context, w onboard.Work, l *onboard.LoginURL, e *onboard.StepError, aw onboard.Awaiting, now time.Time) error
	FailSync(ctx context.Context, w onboard.Work, e onboard.StepError, now time.Time) error
}

// syncHandler runs the two first steps of an organization: SyncProxyOrganization
// with its stored data, then a console link for the admin the row named.
type syncHandler struct {
	*runner
	store interface {
		SyncStore
		EndWork(ctx context.Context, w onboard.Work) error
	}
	api API
}

// loadOrg loads w's organization while it is queued at w's data version;
// nil (and the work ended) when it moved on.
func (h *syncHandler) loadOrg(ctx context.Context, w onboard.Work, license bool, res *result) (*onboard.Org, error) {
	org, err := h.waitingOrg(ctx, h.store, w, license, inState(onboard.StateQueued), "the organization moved on", res)
	if org != nil {
		res.State = org.State
	}
	return org, err
}

// awaiting is how an organization that has just been synced waits.
func (h *syncHandler) awaiting(now time.Time) onboard.Awaiting {
	return onboard.Awaiting{Deadline: now.Add(h.cfg.AuthTimeout), PollAt: now.Add(h.cfg.PollMin)}
}

// sync runs org:sync. A data version the platform already accepted (a
// failed company started again) is not sent twice.
func (h *syncHandler) sync(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error {
	org, err := h.loadOrg(ctx, w, true, res)
	if org == nil {
		return err
	}
	var requestID string
	if org.SyncedVersion != org.DataVersion {
		var resp *ess.SyncProxyOrganizationResponse
		cctx, err := h.call(ctx, org.AppID, ess.ActionSyncProxyOrganization, func(cctx context.Context) error {
			var err error
			resp, err = h.api.SyncProxyOrganization(cctx, syncRequest(org))
			return err
		})
		if err != nil {
			f := h.decide(ctx, cctx, w, ess.ActionSyncProxyOrganization, err)
			if f.Outcome != onboard.FailWork {
				return h.later(ctx, w, "sync", ess.ActionSyncProxyOrganization, f, res)
			}
			res.Outcome, res.State, res.Code, res.RequestID = "failed", onboard.StateFailed, f.Err.Code, f.Err.RequestID
			return h.persist(ctx, func(ctx context.Context) error { return h.store.FailSync(ctx, w, f.Err, h.cfg.Now()) })
		}
		requestID = resp.RequestId
	}
	res.RequestID = requestID
	now := h.cfg.Now()
	login := org.Data.AdminOpenID != ""
	if err := h.persist(ctx, func(ctx context.Context) error {
		return h.store.CompleteSync(ctx, w, requestID, login, h.awaiting(now), now)
	}); err != nil {
		return err
	}
	res.Outcome = "synced"
	if !login {
		res.State = onboard.StateAwaitingAuth
		h.metrics.transition(onboard.StateAwaitingAuth)
	}
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

// login runs org:login_url: a console link for the admin the row named
// (onboard.LoginDecision says when none is needed), then waiting for
// authorization. A link the platform refuses for good is recorded without
// failing the company (it can still be activated another way).
func (h *syncHandler) login(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error {
	org, err := h.loadOrg(ctx, w, false, res)
	if org == nil {
		return err
	}
	now := h.cfg.Now()
	var link *onboard.LoginURL
	need, skip := onboard.LoginDecision(org, now)
	if need {
		admin := org.Data.AdminOpenID
		req := &ess.CreateConsoleLoginUrlRequest{
			Agent: ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: org.Data.OpenID,
				ProxyOperator: &ess.UserInfo{OpenId: admin}},
			ProxyOrganizationName:   org.Data.Name,
			UniformSocialCreditCode: org.Data.CreditCode,
			Endpoint:                h.cfg.LoginEndpoint,
		}
		var resp *ess.CreateConsoleLoginUrlResponse
		cctx, err := h.call(ctx, org.AppID, ess.ActionCreateConsoleLoginUrl, func(cctx context.Context) error {
			var err error
			resp, err = h.api.CreateConsoleLoginUrl(cctx, req)
			return err
		})
		now = h.cfg.Now()
		switch {
		case err == nil:
			link = &onboard.LoginURL{URL: resp.ConsoleUrl, ExpiresAt: now.Add(onboard.LoginLinkLifetime(h.cfg.LoginEndpoint)),
				Operator: admin, Endpoint: h.cfg.LoginEndpoint, RequestID: resp.RequestId}
			res.RequestID = resp.RequestId
		default:
			f := h.decide(ctx, cctx, w, ess.ActionCreateConsoleLoginUrl, err)
			if f.Outcome != onboard.FailWork {
				return h.later(ctx, w, "login_url", ess.ActionCreateConsoleLoginUrl, f, res)
			}
			skip = &f.Err
			res.Code, res.RequestID = f.Err.Code, f.Err.RequestID
		}
	}
	if err := h.persist(ctx, func(ctx context.Context) error {
		return h.store.CompleteLogin(ctx, w, link, skip, h.awaiting(now), now)
	}); err != nil {
		return err
	}
	res.Outcome, res.State = "waiting for authorization", onboard.StateAwaitingAuth
	h.metrics.transition(onboard.StateAwaitingAuth)
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, onboard.ErrNotFound) }
