package esssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Authorization statuses.
const (
	StatusUnverified            = "UNVERIFIED"
	StatusVerifying             = "VERIFYING"
	StatusVerifyingLegalPending = "VERIFYINGLEGALPENDINGAUTHORIZATION"
	StatusVerifyingFilePending  = "VERIFYINGAUTHORIZATIONFILEPENDING"
	StatusVerifyingFileRejected = "VERIFYINGAUTHORIZATIONFILEREJECT"
	StatusVerified              = "VERIFIED"
)

var statuses = []string{
	StatusUnverified, StatusVerifying, StatusVerifyingLegalPending,
	StatusVerifyingFilePending, StatusVerifyingFileRejected, StatusVerified,
}

func isStatus(s string) bool {
	for _, x := range statuses {
		if x == s {
			return true
		}
	}
	return false
}

// Service states kept per company and service.
const (
	ServicePending = "pending" // a link was issued and not yet confirmed
	ServiceOpen    = "open"
	ServiceClosed  = "closed"
)

// fate is where a company's automatic verification ends.
type fate int

const (
	fateLegal  fate = iota // legal representative path, ends VERIFIED
	fateLetter             // letter of authorisation, ends VERIFIED
	fateReject             // letter rejected
	fateNever              // stays UNVERIFIED
)

type app struct {
	App
	orgs  map[string]*org
	order []*org // creation order, for paging
}

type serviceState struct {
	state      string
	url        string
	issued     time.Time // when url was issued
	expires    time.Time
	linkFor    string    // OpenId the link was issued to
	operator   string    // OpenId of the latest operation
	operatedAt time.Time // time of the latest operation
}

type org struct {
	appID, openID string
	orgID         string
	seq           int

	name, creditCode, legalName, legalIDType, legalID, address string
	hasLicense                                                 bool

	syncs     int
	started   time.Time // start of automatic verification
	fate      fate
	manual    string // status set by hand, "" for automatic
	verified  time.Time
	consoleID string // OpenId of the latest console link

	adminOpenID, adminName, adminMobile string
	legalOpenID                         string
	operatorName, operatorMobile        string

	services map[string]*serviceState

	seen       string // status of the latest callbacks sent
	authorized bool   // the OrgAuth callback was sent since the company was last UNVERIFIED
}

// addAppLocked registers an application (and its query identity).
func (s *Server) addAppLocked(a App) *app {
	ap := s.apps[a.AppID]
	if ap == nil {
		ap = &app{App: a, orgs: map[string]*org{}}
		s.apps[a.AppID] = ap
	}
	if a.QueryOrgOpenID != "" {
		ap.QueryOrgOpenID, ap.QueryOperatorOpenID = a.QueryOrgOpenID, a.QueryOperatorOpenID
		o := s.orgLocked(ap, a.QueryOrgOpenID, true)
		if o.name == "" {
			o.name = "渠道查询企业"
		}
		o.manual = StatusVerified
		o.verified = s.now()
		o.adminOpenID = a.QueryOperatorOpenID
		o.adminName = "查询管理员"
		s.becomeVerifiedLocked(o)
		o.seen, o.authorized = StatusVerified, true // configured, not onboarded: no callbacks
	}
	return ap
}

// AddApp registers an application, creating its query identity's company as
// VERIFIED when QueryOrgOpenID is set.
func (s *Server) AddApp(a App) error {
	if a.AppID == "" {
		return errors.New("esssim: AddApp: empty AppId")
	}
	if (a.QueryOrgOpenID == "") != (a.QueryOperatorOpenID == "") {
		return errors.New("esssim: AddApp: give both QueryOrgOpenId and QueryOperatorOpenId, or neither")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAppLocked(a)
	return nil
}

// appLocked returns the application, registering it when AnyApp is set.
func (s *Server) appLocked(appID string) *app {
	if ap := s.apps[appID]; ap != nil {
		return ap
	}
	if s.anyApp {
		return s.addAppLocked(App{AppID: appID})
	}
	return nil
}

// orgLocked returns a company, creating it when create is set.
func (s *Server) orgLocked(ap *app, openID string, create bool) *org {
	if o := ap.orgs[openID]; o != nil || !create {
		return o
	}
	s.seq++
	key := ap.AppID + "\x00" + openID
	o := &org{
		appID:    ap.AppID,
		openID:   openID,
		orgID:    orgIDFor(key),
		seq:      s.seq,
		started:  s.now(),
		services: map[string]*serviceState{},
		seen:     StatusUnverified,
	}
	x := share(key)
	switch {
	case x < s.life.NeverShare:
		o.fate = fateNever
	case x < s.life.NeverShare+s.life.RejectShare:
		o.fate = fateReject
	case share("path\x00"+key) < 0.5:
		o.fate = fateLegal
	default:
		o.fate = fateLetter
	}
	ap.orgs[openID] = o
	ap.order = append(ap.order, o)
	return o
}

// orgIDFor makes a stable 32-character platform id.
func orgIDFor(key string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	for i := range b {
		b[i] = alphabet[int(share(fmt.Sprint(i, "\x00", key))*float64(len(alphabet)))]
	}
	return string(b)
}

// statusLocked computes a company's status now and, on the first sight of
// VERIFIED, gives it its admin and legal representative OpenIds.
func (s *Server) statusLocked(o *org, now time.Time) string {
	st := o.manual
	if st == "" {
		st = s.autoStatus(o, now)
	}
	if st == StatusVerified && o.legalOpenID == "" {
		if o.verified.IsZero() {
			o.verified = now
		}
		s.becomeVerifiedLocked(o)
	}
	s.observeLocked(o, st, now)
	return st
}

func (s *Server) autoStatus(o *org, now time.Time) string {
	if s.life.Manual || o.fate == fateNever {
		return StatusUnverified
	}
	d := now.Sub(o.started)
	switch {
	case d < s.life.Unverified:
		return StatusUnverified
	case d < s.life.Unverified+s.life.Verifying:
		return StatusVerifying
	case d < s.life.Unverified+s.life.Verifying+s.life.Pending:
		if o.fate == fateLegal {
			return StatusVerifyingLegalPending
		}
		return StatusVerifyingFilePending
	case o.fate == fateReject:
		return StatusVerifyingFileRejected
	default:
		if o.verified.IsZero() {
			o.verified = o.started.Add(s.life.Unverified + s.life.Verifying + s.life.Pending)
		}
		return StatusVerified
	}
}

// becomeVerifiedLocked assigns the admin (the console link's OpenId, if any)
// and the legal representative.
func (s *Server) becomeVerifiedLocked(o *org) {
	key := o.appID + "\x00" + o.openID
	if o.adminOpenID == "" {
		o.adminOpenID = s.adminIDLocked(o)
	}
	if o.adminName == "" {
		o.adminName = o.operatorName
		if o.adminName == "" {
			o.adminName = "企业管理员"
		}
	}
	if o.adminMobile == "" {
		m := o.operatorMobile
		if len(m) != 11 {
			m = fmt.Sprintf("138%08d", int(share("mobile\x00"+key)*1e8))
		}
		o.adminMobile = m[:3] + "****" + m[7:]
	}
	if o.legalOpenID == "" {
		o.legalOpenID = "legal_" + orgIDFor("legal\x00" + key)[:12]
	}
}

// adminIDLocked is the OpenId a company's admin gets when it verifies: the
// employee of the latest console link, else a generated one.
func (s *Server) adminIDLocked(o *org) string {
	if o.consoleID != "" {
		return o.consoleID
	}
	return "admin_" + orgIDFor("admin\x00" + o.appID + "\x00" + o.openID)[:12]
}

// canOperate reports whether openID may act for a verified company.
func (o *org) canOperate(openID string) bool {
	return openID != "" && (openID == o.adminOpenID || openID == o.legalOpenID)
}

// info is the company as DescribeChannelOrganizations shows it.
func (s *Server) infoLocked(o *org, now time.Time) orgInfo {
	st := s.statusLocked(o, now)
	in := orgInfo{
		OrganizationId:          o.orgID,
		OrganizationOpenId:      o.openID,
		OrganizationName:        o.name,
		UnifiedSocialCreditCode: o.creditCode,
		LegalName:               o.legalName,
		AuthorizationStatus:     st,
		AuthorizationType:       "AuthorizationInit",
	}
	if st != StatusUnverified && st != StatusVerifying {
		switch o.fate {
		case fateLegal:
			in.AuthorizationType = "AuthorizationLegalPerson"
		default:
			in.AuthorizationType = "AuthorizationFile"
		}
	}
	in.HasSubmittedAuthInfo = st != StatusUnverified && st != StatusVerifyingFileRejected
	if st == StatusVerified {
		in.AdminOpenId, in.AdminName, in.AdminMobile = o.adminOpenID, o.adminName, o.adminMobile
		in.LegalOpenId = o.legalOpenID
		in.ActiveStatus = 1
		in.LicenseExpireTime = o.verified.AddDate(1, 0, 0).Unix()
	}
	return in
}

// SetStatus sets a company's authorization status by hand; it stays there
// until set again. Setting "" returns the company to its automatic schedule,
// restarted now.
func (s *Server) SetStatus(appID, openID, status string) error {
	if status != "" && !isStatus(status) {
		return fmt.Errorf("esssim: unknown status %q", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil {
		return fmt.Errorf("esssim: unknown application %q", appID)
	}
	o := ap.orgs[openID]
	if o == nil {
		return fmt.Errorf("esssim: application %q has no company %q (sync it first)", appID, openID)
	}
	now := s.now()
	o.manual = status
	if status == "" {
		o.started = now
	}
	if status == StatusVerified && o.verified.IsZero() {
		o.verified = now
	}
	s.statusLocked(o, now)
	return nil
}

// OrgView is a company's full simulated state, for tests and the admin API.
type OrgView struct {
	AppID               string                 `json:"AppId"`
	OrganizationOpenID  string                 `json:"OrganizationOpenId"`
	OrganizationID      string                 `json:"OrganizationId"`
	Name                string                 `json:"Name"`
	CreditCode          string                 `json:"CreditCode"`
	LegalName           string                 `json:"LegalName"`
	LegalIDCardNumber   string                 `json:"LegalIdCardNumber"`
	Address             string                 `json:"Address"`
	HasLicense          bool                   `json:"HasLicense"`
	Syncs               int                    `json:"Syncs"`
	AuthorizationStatus string                 `json:"AuthorizationStatus"`
	SetByHand           bool                   `json:"SetByHand"`
	ConsoleOpenID       string                 `json:"ConsoleOpenId,omitempty"`
	AdminOpenID         string                 `json:"AdminOpenId,omitempty"`
	LegalOpenID         string                 `json:"LegalOpenId,omitempty"`
	Services            map[string]ServiceView `json:"Services"`
}

// ServiceView is one extended service of a company.
type ServiceView struct {
	// State is ServicePending, ServiceOpen or ServiceClosed; Status is
	// ServiceEnable when open, else ServiceDisable.
	State      string    `json:"State"`
	Status     string    `json:"Status"`
	OperateURL string    `json:"OperateUrl,omitempty"`
	Issued     time.Time `json:"Issued,omitzero"`
	Expires    time.Time `json:"Expires,omitzero"`
	// OperatorOpenID and OperatedAt are of the latest operation.
	OperatorOpenID string    `json:"OperatorOpenId,omitempty"`
	OperatedAt     time.Time `json:"OperatedAt,omitzero"`
}

// Org returns a company's simulated state.
func (s *Server) Org(appID, openID string) (OrgView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil || ap.orgs[openID] == nil {
		return OrgView{}, false
	}
	return s.viewLocked(ap.orgs[openID]), true
}

// Orgs returns every company of an application in creation order.
func (s *Server) Orgs(appID string) []OrgView {
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.apps[appID]
	if ap == nil {
		return nil
	}
	out := make([]OrgView, 0, len(ap.order))
	for _, o := range ap.order {
		out = append(out, s.viewLocked(o))
	}
	return out
}

func (s *Server) viewLocked(o *org) OrgView {
	v := OrgView{
		AppID: o.appID, OrganizationOpenID: o.openID, OrganizationID: o.orgID,
		Name: o.name, CreditCode: o.creditCode, LegalName: o.legalName,
		LegalIDCardNumber: o.legalID, Address: o.address, HasLicense: o.hasLicense,
		Syncs: o.syncs, AuthorizationStatus: s.statusLocked(o, s.now()), SetByHand: o.manual != "",
		ConsoleOpenID: o.consoleID, AdminOpenID: o.adminOpenID, LegalOpenID: o.legalOpenID,
		Services: map[string]ServiceView{},
	}
	now := s.now()
	for name := range o.services {
		sv := s.serviceLocked(o, name, now)
		st := ServiceDisable
		if sv.state == ServiceOpen {
			st = ServiceEnable
		}
		v.Services[name] = ServiceView{State: sv.state, Status: st, OperateURL: sv.url, Issued: sv.issued, Expires: sv.expires,
			OperatorOpenID: sv.operator, OperatedAt: sv.operatedAt}
	}
	return v
}

// Stats are the simulator's counters.
type Stats struct {
	// Calls counts answers per action and result code ("Success" for a
	// success). Requests without or with an unknown X-TC-Action count under
	// "(none)" and "(unknown)".
	Calls map[string]map[string]int `json:"calls"`
	// MaxInWindow is the most calls of one action that arrived within any
	// rate window (one second by default), whatever their answer.
	MaxInWindow map[string]int `json:"max_in_window"`
	// RateLimited counts RequestLimitExceeded answers per action.
	RateLimited map[string]int `json:"rate_limited"`
	// Dropped counts connections closed by a fault, per action.
	Dropped map[string]int `json:"dropped"`
	// Syncs counts accepted SyncProxyOrganization calls per "AppId/OpenId".
	Syncs map[string]int `json:"syncs"`
	// OrgCalls counts every authenticated call per action and company
	// ("AppId/OpenId" of Agent.ProxyOrganizationOpenId; for
	// DescribeChannelOrganizations the OrganizationOpenId asked for, or
	// "AppId/*" for a listing), whatever its answer.
	OrgCalls map[string]map[string]int `json:"org_calls"`
	// Callbacks count the callbacks sent (all zero without Options.Callbacks).
	Callbacks CallbackStats `json:"callbacks"`
}

func newStats() Stats {
	return Stats{
		Calls:       map[string]map[string]int{},
		MaxInWindow: map[string]int{},
		RateLimited: map[string]int{},
		Dropped:     map[string]int{},
		Syncs:       map[string]int{},
		OrgCalls:    map[string]map[string]int{},
		Callbacks:   CallbackStats{Events: map[string]int{}},
	}
}

// Total returns the number of answers for action with code ("" for all codes).
func (st Stats) Total(action, code string) int {
	n := 0
	for c, k := range st.Calls[action] {
		if code == "" || c == code {
			n += k
		}
	}
	return n
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := newStats()
	for a, m := range s.stats.Calls {
		cp := make(map[string]int, len(m))
		for k, v := range m {
			cp[k] = v
		}
		out.Calls[a] = cp
	}
	for a, m := range s.stats.OrgCalls {
		cp := make(map[string]int, len(m))
		for k, v := range m {
			cp[k] = v
		}
		out.OrgCalls[a] = cp
	}
	events := out.Callbacks.Events
	out.Callbacks = s.stats.Callbacks
	out.Callbacks.Events = events
	for k, v := range s.stats.Callbacks.Events {
		events[k] = v
	}
	if s.cb != nil {
		out.Callbacks.InFlight = s.cb.inFlight
	}
	for _, pair := range []struct{ dst, src map[string]int }{
		{out.MaxInWindow, s.stats.MaxInWindow}, {out.RateLimited, s.stats.RateLimited},
		{out.Dropped, s.stats.Dropped}, {out.Syncs, s.stats.Syncs},
	} {
		for k, v := range pair.src {
			pair.dst[k] = v
		}
	}
	return out
}

// ResetStats zeroes the counters (not the companies, nor the callbacks in
// flight).
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
	s.arrived = map[string][]time.Time{}
}

// SetFaults replaces the faults.
func (s *Server) SetFaults(faults []Fault) error {
	for _, f := range faults {
		if err := checkFault(f); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append([]Fault(nil), faults...)
	return nil
}

// Faults returns the faults in force.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault{}, s.faults...)
}

func checkFault(f Fault) error {
	switch {
	case f.Action != "" && !isAction(f.Action):
		return fmt.Errorf("esssim: fault: unknown action %q", f.Action)
	case f.Share <= 0 || f.Share > 1:
		return fmt.Errorf("esssim: fault: share must be in (0, 1], got %v", f.Share)
	case f.Code == "" && !f.Drop && f.Latency <= 0:
		return errors.New("esssim: fault: give a code, a latency or drop")
	case f.Latency < 0 || f.Times < 0:
		return errors.New("esssim: fault: latency and times must not be negative")
	}
	return nil
}

// Apps returns the known applications sorted by AppId.
func (s *Server) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]App, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, a.App)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AppID < out[j].AppID })
	return out
}

// faultJSON is Fault with the latency as a duration string ("300ms").
type faultJSON struct {
	Action  string          `json:"action,omitempty"`
	Share   float64         `json:"share"`
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Latency json.RawMessage `json:"latency,omitempty"`
	Drop    bool            `json:"drop,omitempty"`
	Times   int             `json:"times,omitempty"`
}

// MarshalJSON writes the latency as a duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Action: f.Action, Share: f.Share, Code: f.Code, Message: f.Message, Drop: f.Drop, Times: f.Times}
	if f.Latency != 0 {
		j.Latency, _ = json.Marshal(f.Latency.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the latency as a duration string ("300ms") or a
// number of nanoseconds.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*f = Fault{Action: j.Action, Share: j.Share, Code: j.Code, Message: j.Message, Drop: j.Drop, Times: j.Times}
	if len(j.Latency) == 0 || string(j.Latency) == "null" {
		return nil
	}
	var str string
	if json.Unmarshal(j.Latency, &str) == nil {
		d, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("latency: %v", err)
		}
		f.Latency = d
		return nil
	}
	var ns int64
	if err := json.Unmarshal(j.Latency, &ns); err != nil {
		return fmt.Errorf("latency: want a duration such as \"300ms\"")
	}
	f.Latency = time.Duration(ns)
	return nil
}
