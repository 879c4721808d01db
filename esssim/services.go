package esssim

import (
	"fmt"
	"time"

	"github.com/ess-onboard/onboard/esscallback"
)

// Service statuses as DescribeExtendedServiceAuthInfo reports them.
const (
	ServiceEnable  = "ENABLE"
	ServiceDisable = "DISABLE"
)

// serviceCatalog lists every extended service in the order
// DescribeExtendedServiceAuthInfo reports them: the spec pages' order, then
// the two newer types. Names are the spec pages' descriptions.
var serviceCatalog = []struct {
	typ, name string
	link      bool // OPEN returns a link
}{
	{"AUTO_SIGN", "企业静默签（自动签署）", true},
	{"OVERSEA_SIGN", "企业与港澳台居民签署合同", true},
	{"MOBILE_CHECK_APPROVER", "使用手机号验证签署方身份", false},
	{"PAGING_SEAL", "骑缝章", false},
	{"DOWNLOAD_FLOW", "授权渠道下载合同", true},
	{"AGE_LIMIT_EXPANSION", "拓宽签署方年龄限制", false},
	{"HIDE_OPERATOR_DISPLAY", "隐藏合同经办人姓名", false},
}

// serviceTypes maps every known service to whether OPEN returns a link.
var serviceTypes = func() map[string]bool {
	m := make(map[string]bool, len(serviceCatalog))
	for _, s := range serviceCatalog {
		m[s.typ] = s.link
	}
	return m
}()

// Admins is how company admins (or legal representatives) follow the
// service links ModifyExtendedService returns.
type Admins struct {
	// OpenAfter: the admin opens a pending service this long after its
	// latest link was issued, if that link is still valid then (so 24h or
	// more: never); the service is then ENABLE. A link replaced by a
	// repeated OPEN starts the wait again.
	OpenAfter time.Duration `json:"open_after"`
	// NeverShare of companies whose admins never follow a link, decided by
	// a hash of (AppId, OpenId) so it is the same on every run.
	NeverShare float64 `json:"never_share"`
}

// adminFollows reports whether the company's admin follows links at all.
func (s *Server) adminFollows(o *org) bool {
	return s.admins != nil && share("admins\x00"+o.appID+"\x00"+o.openID) >= s.admins.NeverShare
}

// serviceLocked returns a company's service (nil if never operated),
// opening a pending one whose admin has followed the link by now.
func (s *Server) serviceLocked(o *org, typ string, now time.Time) *serviceState {
	sv := o.services[typ]
	if sv == nil || sv.state != ServicePending || !s.adminFollows(o) {
		return sv
	}
	at := sv.issued.Add(s.admins.OpenAfter)
	if now.Before(at) || !at.Before(sv.expires) {
		return sv
	}
	s.openServiceLocked(o, typ, sv, sv.linkFor, at)
	return sv
}

// openServiceLocked makes a service open through its admin (a link
// followed, or by hand) and sends the callback.
func (s *Server) openServiceLocked(o *org, typ string, sv *serviceState, operator string, at time.Time) {
	sv.state, sv.operator, sv.operatedAt = ServiceOpen, operator, at
	s.emitLocked(&esscallback.OperateExtendedService{
		ApplicationId: o.appID, ProxyOrganizationOpenId: o.openID, ProxyOperatorOpenId: operator,
		ServiceType: typ, Operate: "OPEN", OperateSuccess: true, OperateTime: esscallback.FormatTime(at),
	})
}

// ConfirmService plays the admin opening a service's link: a pending,
// unexpired link makes the service open (ENABLE).
func (s *Server) ConfirmService(appID, openID, serviceType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil || ap.orgs[openID] == nil {
		return fmt.Errorf("esssim: no company %q in application %q", openID, appID)
	}
	o := ap.orgs[openID]
	now := s.now()
	sv := s.serviceLocked(o, serviceType, now)
	switch {
	case sv == nil || sv.state != ServicePending:
		return fmt.Errorf("esssim: service %s of %q has no pending link", serviceType, openID)
	case !now.Before(sv.expires):
		return fmt.Errorf("esssim: the link for %s of %q expired at %s", serviceType, openID, sv.expires.Format(time.RFC3339))
	}
	s.openServiceLocked(o, serviceType, sv, sv.linkFor, now)
	return nil
}

// SetService sets a service's status by hand, as if its admin had operated
// it: ServiceEnable opens it, ServiceDisable closes it (dropping any pending
// link). A change sends the OperateExtendedService callback.
func (s *Server) SetService(appID, openID, serviceType, status string) error {
	if _, ok := serviceTypes[serviceType]; !ok {
		return fmt.Errorf("esssim: unknown service type %q", serviceType)
	}
	if status != ServiceEnable && status != ServiceDisable {
		return fmt.Errorf("esssim: service status must be %s or %s, got %q", ServiceEnable, ServiceDisable, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil || ap.orgs[openID] == nil {
		return fmt.Errorf("esssim: no company %q in application %q (sync it first)", openID, appID)
	}
	o := ap.orgs[openID]
	now := s.now()
	sv := s.serviceLocked(o, serviceType, now)
	if sv == nil {
		sv = &serviceState{state: ServiceClosed}
		o.services[serviceType] = sv
	}
	operator := o.adminOpenID
	if operator == "" {
		operator = s.adminIDLocked(o)
	}
	switch {
	case status == ServiceEnable && sv.state != ServiceOpen:
		s.openServiceLocked(o, serviceType, sv, operator, now)
	case status == ServiceDisable && sv.state != ServiceClosed:
		*sv = serviceState{state: ServiceClosed, operator: operator, operatedAt: now}
		s.emitLocked(&esscallback.OperateExtendedService{
			ApplicationId: o.appID, ProxyOrganizationOpenId: o.openID, ProxyOperatorOpenId: operator,
			ServiceType: serviceType, Operate: "CLOSE", OperateSuccess: true, OperateTime: esscallback.FormatTime(now),
		})
	}
	return nil
}

type extendedAuthRequest struct {
	Agent agent
}

// extendedAuthInfo is one service as DescribeExtendedServiceAuthInfo shows it.
type extendedAuthInfo struct {
	Type           string
	Name           string
	Status         string
	OperatorOpenId string
	OperateOn      int64
}

type extendedAuthResponse struct {
	AuthInfo []extendedAuthInfo
}

func (s *Server) describeExtendedServiceAuthInfo(c *call, p *params) (any, *apiError) {
	var req extendedAuthRequest
	if e := p.into(c, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap, e := s.checkAgentLocked(c, &req.Agent, true, plainAgentCodes)
	if e != nil {
		return nil, e
	}
	now := s.now()
	o := ap.orgs[req.Agent.ProxyOrganizationOpenId]
	if o == nil || s.statusLocked(o, now) != StatusVerified {
		return nil, errf("OperationDenied", "%s", c.msg(
			"The company has not completed verification.", "企业未完成认证，无法查询扩展服务。"))
	}
	if !o.canOperate(req.Agent.operator()) {
		return nil, errf("OperationDenied", "%s", c.msg(
			"The operator must be the company's super admin or legal representative.",
			"操作人须为企业超管或法人。"))
	}
	out := extendedAuthResponse{AuthInfo: make([]extendedAuthInfo, 0, len(serviceCatalog))}
	for _, svc := range serviceCatalog {
		in := extendedAuthInfo{Type: svc.typ, Name: svc.name, Status: ServiceDisable}
		if sv := s.serviceLocked(o, svc.typ, now); sv != nil {
			if sv.state == ServiceOpen {
				in.Status = ServiceEnable
			}
			in.OperatorOpenId = sv.operator
			if !sv.operatedAt.IsZero() {
				in.OperateOn = sv.operatedAt.Unix()
			}
		}
		out.AuthInfo = append(out.AuthInfo, in)
	}
	return out, nil
}
