package jobs

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/hibiken/asynq"
)

// operateURLLifetime is how long an OperateUrl lives when the link does not
// say (its expired_time parameter).
const operateURLLifetime = 24 * time.Hour

// handleOpenService runs org:open_service: ModifyExtendedService OPEN as the
// company's super admin (or its legal representative when no admin is
// known). A link means the admin must still confirm: the service is linked
// and the link stored with its expiry; no link means it is opened. The
// organization is done once every service is opened or linked.
func (w *Workers) handleOpenService(ctx context.Context, t *asynq.Task) error {
	p, org, res, err := w.beginOrgTask(ctx, t, false)
	if org == nil {
		return err
	}
	if org.State != onboard.StateOpeningServices {
		res.Outcome = "skipped: organization is " + org.State
		writeResult(t, res)
		return nil
	}
	requested := false
	for _, s := range org.Services {
		if s.Service == p.Service && s.State == onboard.ServiceRequested {
			requested = true
		}
	}
	if !requested {
		res.Outcome = "skipped: service not waiting"
		writeResult(t, res)
		return nil
	}
	operator := org.AdminOpenID
	if operator == "" {
		operator = org.LegalOpenID
	}
	if operator == "" {
		e := onboard.StepError{Code: "onboard.NoOperator", Message: "the platform named neither a super admin nor a legal representative for this company"}
		return w.recordService(ctx, t, org, p.Service, onboard.ServiceResult{State: onboard.ServiceFailed, Err: &e}, &res)
	}
	req := &ess.ModifyExtendedServiceRequest{
		Agent: ess.Agent{AppId: org.AppID, ProxyOrganizationOpenId: org.Data.OpenID,
			ProxyOperator: &ess.UserInfo{OpenId: operator}},
		ServiceType: p.Service,
		Operate:     "OPEN",
		Endpoint:    w.cfg.ServiceEndpoint,
	}
	cctx := w.callCtx(ctx, org.AppID)
	start := time.Now()
	resp, err := w.api.ModifyExtendedService(cctx, req)
	w.metrics.call(ess.ActionModifyExtendedService, time.Since(start), err)
	if err != nil {
		err = w.callErr(cctx, err)
		d := w.cfg.Policy.Decide(err, tries(ctx))
		switch d.Outcome {
		case Fail:
			se := stepError(err)
			res.Code, res.RequestID = se.Code, se.RequestID
			if rerr := w.recordService(ctx, t, org, p.Service, onboard.ServiceResult{State: onboard.ServiceFailed, Err: &se}, &res); rerr != nil {
				return rerr
			}
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		case Retry:
			se := stepError(err)
			_, _ = w.store.RecordService(ctx, org.ID, org.DataVersion, p.Service, onboard.ServiceResult{State: onboard.ServiceRequested, Err: &se})
		}
		return w.onCallError(ctx, t, org.AppID, ess.ActionModifyExtendedService, nil, "service:"+p.Service, err, false, &res)
	}
	res.RequestID = resp.RequestId
	r := onboard.ServiceResult{State: onboard.ServiceOpened, Err: &onboard.StepError{RequestID: resp.RequestId}}
	if resp.OperateUrl != "" {
		r = onboard.ServiceResult{State: onboard.ServiceLinked, URL: resp.OperateUrl,
			ExpiresAt: linkExpiry(resp.OperateUrl, w.cfg.Now()), Err: &onboard.StepError{RequestID: resp.RequestId}}
	}
	return w.recordService(ctx, t, org, p.Service, r, &res)
}

func (w *Workers) recordService(ctx context.Context, t *asynq.Task, org *onboard.Org, service string, r onboard.ServiceResult, res *result) error {
	state, err := w.store.RecordService(ctx, org.ID, org.DataVersion, service, r)
	if err != nil {
		return retryAfter(err, w.cfg.Policy.Backoff(tries(ctx)))
	}
	if state != "" && state != org.State {
		w.metrics.transition(state)
	}
	res.Outcome, res.State = "service "+r.State, state
	writeResult(t, *res)
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
