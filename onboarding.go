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
	Resumes             int
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

// PollTicket asks the caller to enqueue authorization polling round Round of
// AppID to run at At.
type PollTicket struct {
	AppID string
	Round int
	At    time.Time
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

// PendingOrg is an organization with work left, as resume re-enqueues it.
type PendingOrg struct {
	ID          int64
	DataVersion int
	State       string
	Services    []string // requested services, for opening_services
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
	LinksRenewed  int       `json:"links_renewed"`   // expired service links asked for again
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

// PendingTask is one piece of work that should have a task in the queue.
type PendingTask struct {
	OrgID       int64
	DataVersion int
	State       string    // StateQueued or StateOpeningServices
	Service     string    // the requested service, for StateOpeningServices
	ChangedAt   time.Time // when the work last moved
}

// ExpiredLink is a service whose link expired and was put back to requested.
type ExpiredLink struct {
	OrgID       int64
	DataVersion int
	Service     string
	ExpiredAt   time.Time
}

// PollState is an application's authorization polling schedule.
type PollState struct {
	Round     int
	Scheduled bool
	NextAt    time.Time
	Waiting   int // organizations awaiting authorization
}
