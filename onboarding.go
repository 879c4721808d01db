package onboard

import (
	"errors"
	"time"
)

// The onboarding state the workers keep and the repository stores: what each
// organization's sync, console link, authorization and services came to, per
// application its pause and polling schedule, and the reconciliation sweeps.

// ErrNotFound means the thing asked for does not exist. Stores return it,
// wrapped or not; callers test with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrStale means the work a task was dispatched for has moved on: it was
// handed out again under a newer attempt, replaced, or finished.
var ErrStale = errors.New("work moved on since the task was dispatched")

// ErrPaused means the work's application is paused; the work was handed
// back and waits for resume.
var ErrPaused = errors.New("application paused")

// Org is an organization as the workers see it.
type Org struct {
	ID            int64
	AppID         string
	DataVersion   int
	State         string
	Data          OrgData // License carries its bytes when asked for
	SyncedVersion int     // 0 when never synced
	AuthStatus    string
	AuthDeadline  time.Time
	AdminOpenID   string // the platform's super admin, once verified
	LegalOpenID   string // the platform's legal representative, once verified
	LoginURL      string
	LoginExpires  time.Time
	LoginOperator string
	Services      []ServiceState
}

// ServiceState is one requested extended service of an organization.
type ServiceState struct {
	Service   string
	State     string // Service*
	URL       string
	ExpiresAt time.Time
}

// Application is one channel application's pause state and query identity.
// A never-seen application is returned with zero values.
type Application struct {
	AppID               string
	PausedAt            time.Time // zero when running
	PauseAction         string
	PauseCode           string
	PauseMessage        string
	PauseRequestID      string
	QueryOrgOpenID      string
	QueryOperatorOpenID string
	PlatformTotal       int
}

// Paused reports whether the application's work is paused.
func (a *Application) Paused() bool { return !a.PausedAt.IsZero() }

// StepError is an error the platform (or the worker) reported for one step.
type StepError struct {
	Code      string
	Message   string
	RequestID string
}

// LoginURL is a console (activation) link issued for an organization's admin.
type LoginURL struct {
	URL       string
	ExpiresAt time.Time
	Operator  string
	Endpoint  string
	RequestID string
}

// AwaitingOrg is an organization waiting for the company to verify itself.
type AwaitingOrg struct {
	ID          int64
	OpenID      string
	DataVersion int
	Deadline    time.Time
}

// AuthObservation is what the platform said about one company.
type AuthObservation struct {
	Status        string // AuthorizationStatus
	PlatformOrgID string
	AdminOpenID   string
	LegalOpenID   string
}

// AuthOutcome is what an AuthObservation did to an organization.
type AuthOutcome struct {
	From, To string   // equal when the state did not change
	Services []string // requested services to open, when To is opening_services
}

// ServiceResult is the outcome of one ModifyExtendedService call.
type ServiceResult struct {
	State     string // Service*: linked, opened, failed; requested records an error only
	URL       string
	ExpiresAt time.Time
	Err       *StepError
}

// PollRound is the record of one polling round.
type PollRound struct {
	Round     int
	StartedAt time.Time
	Mode      string // single, list, none
	Waiting   int
	AppOrgs   int
	Calls     int
	Changed   int
	ErrorCode string
	// PlatformTotal is the number of companies the platform listed, 0 when
	// the round did not list.
	PlatformTotal int
}

// ReconcileRun is the record of one reconciliation sweep of an application.
type ReconcileRun struct {
	ID            int64     `json:"id"`
	AppID         string    `json:"app_id"`
	Trigger       string    `json:"trigger"` // cli, schedule, dashboard
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`     // zero while running
	Pages         int       `json:"pages"`           // DescribeChannelOrganizations calls made
	PlatformOrgs  int       `json:"platform_orgs"`   // companies the platform listed
	StatusUpdates int       `json:"status_updates"`  // organizations whose state, status or OpenIds changed
	Verified      int       `json:"verified"`        // newly verified; service requests queued
	Rejected      int       `json:"rejected"`        // newly rejected by the platform
	Requeued      int       `json:"requeued"`        // lost or stuck work enqueued again
	LinksRenewed  int       `json:"links_renewed"`   // expired service links whose check was made due
	UnknownOrgs   int       `json:"unknown_orgs"`    // drift: on the platform, not in onboard
	Mismatched    int       `json:"mismatched"`      // drift: name or credit code differ
	Error         string    `json:"error,omitempty"` // why the sweep stopped early
}

// Changes is how many things the sweep changed.
func (r *ReconcileRun) Changes() int {
	return r.StatusUpdates + r.Requeued + r.LinksRenewed
}

// Drift is one difference between the platform and onboard.
type Drift struct {
	OpenID   string `json:"open_id"`
	Kind     string `json:"kind"` // DriftUnknown, DriftName, DriftCreditCode
	Ours     string `json:"ours,omitempty"`
	Platform string `json:"platform,omitempty"`
}

// Kinds of drift.
const (
	DriftUnknown    = "unknown"     // the platform lists a company onboard does not know
	DriftName       = "name"        // the names differ
	DriftCreditCode = "credit_code" // the credit codes differ
)

// KnownOrg is what onboard knows of an organization the platform listed.
type KnownOrg struct {
	ID            int64
	OpenID        string
	DataVersion   int
	State         string
	Name          string
	CreditCode    string
	AuthStatus    string
	PlatformOrgID string
	AdminOpenID   string
	LegalOpenID   string
}

// PlatformUpdate is what the platform said about a verified organization.
type PlatformUpdate struct {
	ID            int64
	DataVersion   int
	Status        string
	PlatformOrgID string
	AdminOpenID   string
	LegalOpenID   string
}

// ExpiredLink is a service whose link expired and was put back to requested.
type ExpiredLink struct {
	OrgID       int64
	DataVersion int
	Service     string
	ExpiredAt   time.Time
}

// Dispatch is what the dispatcher last did for an application.
type Dispatch struct {
	At      time.Time // zero: never
	Tasks   int       // tasks handed out then
	Error   string    // the last error, "" once a dispatch succeeded since
	ErrorAt time.Time
}

// AppActivity is when an application's work was last handed out and its
// last reconciliation sweep ran, for status pages.
type AppActivity struct {
	AppID     string
	Paused    bool
	Dispatch  Dispatch
	LastSweep *ReconcileRun // nil: never swept
	Due       int           // work due now and not in flight
	InFlight  int           // work handed to the queue and not finished
}

// Awaiting says how an organization waits for its company to verify
// itself: until Deadline, with the application's next polling round due by
// PollAt.
type Awaiting struct {
	Deadline time.Time
	PollAt   time.Time
}

// PollSchedule bounds the pause between polling rounds: Min doubled per
// round in a row in which nothing changed, at most Max.
type PollSchedule struct{ Min, Max time.Duration }

// DispatchLimits bound what the dispatcher hands out.
type DispatchLimits struct {
	// AppIDs limits the dispatch to these applications; nil: every one.
	AppIDs []string
	// Window is, per kind of work, the most work of one application in
	// the queue at once (dispatched and not finished); kinds missing take
	// 1.
	Window map[string]int
	// Lease is how long the i-th work (from 0) of a kind and application
	// handed out in one dispatch may sit in the queue before it is handed
	// out again.
	Lease func(kind string, i int) time.Duration
}

// AppDispatch is what one dispatch handed out for one application.
type AppDispatch struct {
	AppID string
	Work  []Work // with their new attempts
}

// AdminWait says how an organization waits for its admin to open service
// links: until Deadline, with the next check of its services due at CheckAt.
type AdminWait struct {
	Deadline time.Time
	CheckAt  time.Time
}

// Callback is one callback the platform pushed, as onboard records it.
type Callback struct {
	MsgID   string
	MsgType string
	AppID   string
	OpenID  string    // ProxyOrganizationOpenId, "" when the event names none
	EventAt time.Time // zero when the event carries no time
	// Onboarding is whether the MsgType is one that can move a company
	// (authorization, verification, letter of authorization, services).
	Onboarding bool
}

// Verdicts of a recorded callback.
const (
	CallbackCheckDue       = "check_due"       // a check of the company's services is due now
	CallbackVerifyDue      = "verify_due"      // a check of the company's verification is due now
	CallbackNothingWaiting = "nothing_waiting" // the company waits for nothing the callback could tell
	CallbackUnknownCompany = "unknown_company" // onboard does not know the company
	CallbackIgnored        = "ignored"         // a MsgType onboarding does not follow
	CallbackDuplicate      = "duplicate"       // this MsgId was recorded before
)

// ReceivedCallback is a recorded callback with what onboard made of it.
type ReceivedCallback struct {
	Callback
	ReceivedAt time.Time
	Verdict    string // Callback*
}
