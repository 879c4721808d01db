package jobs

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
)

// ServiceStore is what the service step reads and writes.
type ServiceStore interface {
	OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error)
	CompleteService(ctx context.Context, w onboard.Work, r onboard.ServiceResult, aw onboard.AdminWait, now time.Time) (string, error)
	EndWork(ctx context.Context, w onboard.Work) error
}

// operateURLLifetime is how long an OperateUrl lives when the link does not
// say (its expired_time parameter).
const operateURLLifetime = 24 * time.Hour

// serviceHandler runs org:open_service: ModifyExtendedService OPEN of one
// service as the company's super admin (or its legal representative when no
// admin is known). A link means the admin must still confirm: the service
// is linked and the link stored with its expiry; no link means it is
// opened. Once no service is still requested the organization waits for
// its admin to open the links (awaiting_admin, checked by org:check_services)
// or is done when none is needed (onboard.ServicesOutcome).
type serviceHandler struct {
	*runner
	store ServiceStore
	api   API
}

func (h *serviceHandler) open(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error {
	org, err := h.waitingOrg(ctx, h.store, w, false, func(o *onboard.Org) bool {
		return o.State == onboard.StateOpeningServices && requested(o, w.Service)
	}, "the service is not waiting", res)
	if org == nil {
		return err
	}
	operator := operatorOf(org)
	if operator == "" {
		e := onboard.StepError{Code: "onboard.NoOperator", Message: "the platform named neither a super admin nor a legal representative for this company"}
		return h.record(ctx, w, onboard.ServiceResult{State: onboard.ServiceFailed, Err: &e}, res)
	}
	if org.DataVersion > 1 {
		// New data for a company onboarded before: its services may be open
		// already, and one that is must not be asked for again.
		open, err := h.alreadyOpen(ctx, w, org, operator, res)
		if err != nil || open {
			return err
		}
		if res.Outcome != "" {
			return nil // the question went wrong and the work was put back
		}
	}
	req := &ess.ModifyExtendedServiceRequest{
		Agent: ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: org.Data.OpenID,
			ProxyOperator: &ess.UserInfo{OpenId: operator}},
		ServiceType: w.Service,
		Operate:     "OPEN",
		Endpoint:    h.cfg.ServiceEndpoint,
	}
	var resp *ess.ModifyExtendedServiceResponse
	cctx, err := h.call(ctx, org.AppID, ess.ActionModifyExtendedService, func(cctx context.Context) error {
		var err error
		resp, err = h.api.ModifyExtendedService(cctx, req)
		return err
	})
	if err != nil {
		f := h.decide(ctx, cctx, w, ess.ActionModifyExtendedService, err)
		if f.Outcome != onboard.FailWork {
			return h.later(ctx, w, "service:"+w.Service, ess.ActionModifyExtendedService, f, res)
		}
		res.Code, res.RequestID = f.Err.Code, f.Err.RequestID
		return h.record(ctx, w, onboard.ServiceResult{State: onboard.ServiceFailed, Err: &f.Err}, res)
	}
	res.RequestID = resp.RequestId
	r := onboard.ServiceResult{State: onboard.ServiceOpened, Err: &onboard.StepError{RequestID: resp.RequestId}}
	if resp.OperateUrl != "" {
		r = onboard.ServiceResult{State: onboard.ServiceLinked, URL: resp.OperateUrl,
			ExpiresAt: linkExpiry(resp.OperateUrl, h.cfg.Now()), Err: &onboard.StepError{RequestID: resp.RequestId}}
	}
	return h.record(ctx, w, r, res)
}

// alreadyOpen asks the platform whether w's service is open for org
// (DescribeExtendedServiceAuthInfo); when it is, the service is recorded
// opened without ModifyExtendedService and open is true. A failed question
// puts the work back (res.Outcome set).
func (h *serviceHandler) alreadyOpen(ctx context.Context, w onboard.Work, org *onboard.Org, operator string, res *result) (bool, error) {
	var resp *ess.DescribeExtendedServiceAuthInfoResponse
	cctx, err := h.call(ctx, org.AppID, ess.ActionDescribeExtendedServiceAuthInfo, func(cctx context.Context) error {
		var err error
		resp, err = h.api.DescribeExtendedServiceAuthInfo(cctx, &ess.DescribeExtendedServiceAuthInfoRequest{
			Agent: ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: org.Data.OpenID, ProxyOperator: &ess.UserInfo{OpenId: operator}}})
		return err
	})
	if err != nil {
		f := h.decide(ctx, cctx, w, ess.ActionDescribeExtendedServiceAuthInfo, err)
		if f.Outcome == onboard.FailWork {
			return false, nil // the platform will not say: ask to open it
		}
		return false, h.later(ctx, w, "service:"+w.Service, ess.ActionDescribeExtendedServiceAuthInfo, f, res)
	}
	for _, a := range resp.AuthInfo {
		if a.Type == w.Service && a.Status == onboard.ServiceEnabled {
			return true, h.record(ctx, w, onboard.ServiceResult{State: onboard.ServiceOpened,
				Err: &onboard.StepError{RequestID: resp.RequestId}}, res)
		}
	}
	return false, nil
}

func requested(org *onboard.Org, service string) bool {
	for _, s := range org.Services {
		if s.Service == service && s.State == onboard.ServiceRequested {
			return true
		}
	}
	return false
}

func (h *serviceHandler) record(ctx context.Context, w onboard.Work, r onboard.ServiceResult, res *result) error {
	var state string
	if err := h.persist(ctx, func(ctx context.Context) error {
		var err error
		now := h.cfg.Now()
		aw := onboard.AdminWait{Deadline: now.Add(h.cfg.AdminTimeout), CheckAt: now.Add(h.cfg.PollMin)}
		state, err = h.store.CompleteService(ctx, w, r, aw, now)
		return err
	}); err != nil {
		return err
	}
	if state != "" && state != onboard.StateOpeningServices {
		h.metrics.transition(state)
	}
	res.Outcome, res.State = "service "+r.State, state
	return nil
}

// CheckStore is what the check of a company's services reads and writes.
type CheckStore interface {
	OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error)
	CompleteCheck(ctx context.Context, w onboard.Work, enabled []string, sched onboard.PollSchedule, now time.Time) (string, []string, error)
	RecordOrgError(ctx context.Context, id int64, version int, step string, e onboard.StepError, now time.Time) error
	EndWork(ctx context.Context, w onboard.Work) error
}

// checkHandler runs org:check_services: DescribeExtendedServiceAuthInfo of
// a company waiting for its admin. The platform's answer decides: a linked
// service that is ENABLE is open; one whose link expired while it is not
// is asked for again (never one that is open); the company is done once
// every requested service is open, timed_out past the admin deadline.
type checkHandler struct {
	*runner
	store CheckStore
	api   API
}

func (h *checkHandler) check(ctx context.Context, t *asynq.Task, w onboard.Work, res *result) error {
	org, err := h.waitingOrg(ctx, h.store, w, false, inState(onboard.StateAwaitingAdmin), "the organization is not waiting for its admin", res)
	if org == nil {
		return err
	}
	operator := operatorOf(org)
	var resp *ess.DescribeExtendedServiceAuthInfoResponse
	cctx, err := h.call(ctx, org.AppID, ess.ActionDescribeExtendedServiceAuthInfo, func(cctx context.Context) error {
		var err error
		resp, err = h.api.DescribeExtendedServiceAuthInfo(cctx, &ess.DescribeExtendedServiceAuthInfoRequest{
			Agent: ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: org.Data.OpenID, ProxyOperator: &ess.UserInfo{OpenId: operator}}})
		return err
	})
	sched := onboard.PollSchedule{Min: h.cfg.PollMin, Max: h.cfg.PollMax}
	if err != nil {
		f := h.decide(ctx, cctx, w, ess.ActionDescribeExtendedServiceAuthInfo, err)
		if f.Outcome != onboard.FailWork {
			return h.later(ctx, w, "check", ess.ActionDescribeExtendedServiceAuthInfo, f, res)
		}
		// The platform will not say: keep the error on the company and ask
		// again after the longest pause (nothing is renewed blindly).
		res.Code, res.RequestID = f.Err.Code, f.Err.RequestID
		if err := h.persist(ctx, func(ctx context.Context) error {
			return h.store.RecordOrgError(ctx, w.OrgID, w.DataVersion, "check", f.Err, h.cfg.Now())
		}); err != nil {
			return err
		}
		f.RetryDecision = onboard.RetryDecision{Outcome: onboard.WaitLater, At: h.cfg.Now().Add(h.cfg.PollMax)}
		return h.later(ctx, w, "check", ess.ActionDescribeExtendedServiceAuthInfo, f, res)
	}
	var enabled []string
	for _, a := range resp.AuthInfo {
		if a.Status == onboard.ServiceEnabled {
			enabled = append(enabled, a.Type)
		}
	}
	res.RequestID = resp.RequestId
	var state string
	var renewed []string
	if err := h.persist(ctx, func(ctx context.Context) error {
		var err error
		state, renewed, err = h.store.CompleteCheck(ctx, w, enabled, sched, h.cfg.Now())
		return err
	}); err != nil {
		return err
	}
	if state != "" && state != onboard.StateAwaitingAdmin {
		h.metrics.transition(state)
	}
	res.Outcome, res.State = fmt.Sprintf("checked: %d open, %d links asked for again", len(enabled), len(renewed)), state
	return nil
}

// linkExpiry reads the expired_time (Unix seconds) an OperateUrl carries;
// without one the link lives operateURLLifetime from now.
func linkExpiry(link string, now time.Time) time.Time {
	if u, err := url.Parse(link); err == nil {
		q := u.Query()
		if q.Get("expired_time") == "" && u.Fragment != "" {
			if i := strings.IndexByte(u.Fragment, '?'); i >= 0 {
				q, _ = url.ParseQuery(u.Fragment[i+1:])
			}
		}
		if s := q.Get("expired_time"); s != "" {
			if sec, err := strconv.ParseInt(s, 10, 64); err == nil && sec > now.Unix()-86400*365 {
				return time.Unix(sec, 0)
			}
		}
	}
	return now.Add(operateURLLifetime)
}
